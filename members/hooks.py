"""Where other apps plug into a member's merge, data-access export and erasure.

members imports no other domain app, yet a member's orders (and whatever else refers to a member by id) must
follow a merge, appear in an export and lose their personal data on erasure. Those apps register callables
here, from their AppConfig.ready(); the members services call them inside their own transaction, so a hook
that fails rolls the whole act back.

- merge hook:  hook(*, survivor_id: int, duplicate_id: int, actor) -> None
- export hook: hook(*, member_id: int) -> dict[str, list[dict]]   (sections added to the export, JSON-able)
- erase hook:  hook(*, member_id: int, actor) -> None
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class MergeHook(Protocol):
    def __call__(self, *, survivor_id: int, duplicate_id: int, actor: Any) -> None: ...


class ExportHook(Protocol):
    def __call__(self, *, member_id: int) -> dict[str, list[dict[str, Any]]]: ...


class EraseHook(Protocol):
    def __call__(self, *, member_id: int, actor: Any) -> None: ...


MERGE_HOOKS: list[MergeHook] = []
EXPORT_HOOKS: list[ExportHook] = []
ERASE_HOOKS: list[EraseHook] = []


def _register(hooks: list[Any], hook: Callable[..., Any]) -> None:
    # ready() may run more than once (tests, management commands): a hook is kept once.
    if hook not in hooks:
        hooks.append(hook)


def merge_hook_register(hook: MergeHook) -> None:
    _register(MERGE_HOOKS, hook)


def export_hook_register(hook: ExportHook) -> None:
    _register(EXPORT_HOOKS, hook)


def erase_hook_register(hook: EraseHook) -> None:
    _register(ERASE_HOOKS, hook)
