from typing import Any

from django.contrib import admin

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin[Any]):
    list_display = ["phone", "name", "email", "created_at"]
    search_fields = ["phone", "name", "email"]
