"""`manage.py stock_verify`: proves that the ledger adds up; exits non-zero when it does not."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_verify

EXPLAIN = {
    "on_hand": "on-hand differs from the sum of its movements",
    "no_stock_row": "movements exist for a SKU and location that have no stock row",
    "reserved": "reserved differs from the sum of active holds",
    "movement_chain": "a movement's on-hand-after differs from the running sum",
}


class Command(BaseCommand):
    help = (
        "Checks that stock movements sum to on-hand and active holds to reserved, for every SKU and location."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checked, problems = stock_verify()
        for problem in problems[:200]:
            self.stderr.write(
                f"{problem.problem}: variant {problem.variant_id} at location {problem.location_id}: "
                f"recorded {problem.recorded}, computed {problem.computed} ({EXPLAIN[problem.problem]})"
            )
        if problems:
            raise CommandError(f"stock_verify: {len(problems)} problem(s) in {checked} stock rows")
        self.stdout.write(self.style.SUCCESS(f"stock_verify: OK, {checked} stock rows agree with the ledger"))
