"""URL patterns for plans: staff ones are mounted under /p/<slug>/clients/<client_id>/ (namespace
"care"), client ones under /p/<slug>/my/ (namespace "my"). Views are shared where the page is."""

from django.urls import path  # noqa: F401

from accounts.models import Membership
from portal.tenancy.access import require_role

staff = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
client = require_role(Membership.Role.CLIENT)

staff_patterns = []
client_patterns = []
