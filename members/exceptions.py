from django.utils.translation import gettext_lazy as _

from omo.errors import NotFound


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = _("No such member.")
