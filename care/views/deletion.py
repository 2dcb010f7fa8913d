"""Deleting a client (admins only), under the retention policy in docs/retention.md."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from care.access import access_client
from care.forms.deletion import DeleteClientForm
from care.services import deletion
from portal.tenancy.access import require_role


@require_role(Membership.Role.ADMIN)
@require_http_methods(["GET", "POST"])
def client_delete(request, client_id):
    client = access_client(request.membership, client_id)
    form = DeleteClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deletion.delete_client(
                practice=request.practice, actor=request.membership, client=client,
                typed_name=form.cleaned_data["typed_name"],
            )
        except ValidationError as error:
            form.add_error("typed_name", error)
        else:
            messages.success(request, "The client was deleted. Their record is now anonymous.")
            return redirect("care:clients", practice_slug=request.practice.slug)
    return render(request, "care/client_delete.html", {"client": client, "form": form})
