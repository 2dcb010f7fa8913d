"""Running a practice: staff access, clients, caseloads, shared care, transfers and discharge."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from accounts.models import Invitation, Membership, User
from care.models import CaseloadAssignment, Client
from portal.testing import AssignmentFactory, ClientFactory, MembershipFactory

# --- helpers ------------------------------------------------------------------------------------


def browser_for(membership) -> HttpClient:
    """A separate browser with its own session, signed in as the membership's user."""
    http = HttpClient()
    http.force_login(membership.user)
    return http


def rename(membership, first, last):
    User.objects.filter(pk=membership.user_id).update(first_name=first, last_name=last)
    membership.user.refresh_from_db()


@pytest.fixture
def world(world_a):
    """world_a with fixed, distinct names, so page text can be checked without Faker clashes."""
    rename(world_a.admin, "Ada", "Adminton")
    rename(world_a.clinician, "Cleo", "Carefield")
    rename(world_a.clinician2, "Dev", "Deepwater")
    for n, (client, (first, last)) in enumerate([
        (world_a.client, ("Kim", "Solo")),
        (world_a.other_client, ("Otto", "Elsewhere")),
        (world_a.shared_client, ("Sia", "Together")),
    ]):
        Client.unscoped.filter(pk=client.pk).update(first_name=first, last_name=last)
        Membership.unscoped.filter(pk=client.membership_id).update(email=f"c{n}@mail.test")
        client.refresh_from_db()
        client.membership.refresh_from_db()
        rename(client.membership, first, last)
    return world_a


def open_team(client) -> set[int]:
    return set(
        CaseloadAssignment.unscoped.filter(client=client, ended_at__isnull=True).values_list(
            "clinician_id", flat=True
        )
    )


def caseload_names(response) -> set[str]:
    return {row.client.full_name for row in response.context["caseload"]}


def new_client_data(**overrides):
    return {
        "first_name": "Nina",
        "last_name": "Newcome",
        "email": "nina@example.test",
        "phone": "",
        "preferred_contact": "email",
        "send_invitation": "on",
        **overrides,
    }


def discharge(http, world, client):
    return http.post(world.url(f"clients/{client.pk}/discharge/"), {"confirm": "yes"})


# --- Staff: list, deactivate, reactivate --------------------------------------------------------


def test_admin_lists_the_staff_with_roles_statuses_and_caseload_sizes(world, as_member):
    page = as_member(world.admin).get(world.url("staff/"))

    assert page.status_code == 200
    members = {m.pk: m for m in page.context["members"]}
    assert set(members) == {world.admin.pk, world.clinician.pk, world.clinician2.pk}
    assert members[world.clinician.pk].open_caseload == 2
    assert members[world.clinician2.pk].open_caseload == 2
    assert members[world.admin.pk].open_caseload == 0
    body = page.content.decode()
    for name in ["Ada Adminton", "Cleo Carefield", "Dev Deepwater"]:
        assert name in body
    # Clients are not staff.
    assert "Kim Solo" not in body


def test_staff_list_leaves_out_other_practices(world, world_b, as_member):
    page = as_member(world.admin).get(world.url("staff/"))

    body = page.content.decode()
    assert world_b.clinician.user.email not in body
    assert world_b.admin.user.email not in body


def test_deactivated_clinician_loses_access_on_the_very_next_request(world, as_member):
    clinician = browser_for(world.clinician)
    assert clinician.get(world.url()).status_code == 200
    assert clinician.get(world.url(f"clients/{world.client.pk}/")).status_code == 200

    response = as_member(world.admin).post(world.url(f"staff/{world.clinician.pk}/deactivate/"))

    assert response.status_code == 302
    world.clinician.refresh_from_db()
    assert world.clinician.status == Membership.Status.INACTIVE
    # Same session, no sign-out: every page of the practice is gone at once.
    assert clinician.get(world.url()).status_code == 404
    assert clinician.get(world.url(f"clients/{world.client.pk}/")).status_code == 404
    assert clinician.get(world.url("clients/")).status_code == 404
    assert clinician.post(world.url(f"clients/{world.client.pk}/discharge/"),
                          {"confirm": "yes"}).status_code == 404
    world.client.refresh_from_db()
    assert world.client.discharged_at is None
    # They are still signed in, just not part of this practice any more.
    assert "not part of a practice yet" in clinician.get("/").content.decode()
    # Their clients stay assigned until an admin moves them.
    assert world.clinician.pk in open_team(world.client)


def test_reactivated_clinician_gets_access_back(world, as_member):
    admin = as_member(world.admin)
    clinician = browser_for(world.clinician)
    admin.post(world.url(f"staff/{world.clinician.pk}/deactivate/"))
    assert clinician.get(world.url()).status_code == 404

    response = admin.post(world.url(f"staff/{world.clinician.pk}/reactivate/"))

    assert response.status_code == 302
    world.clinician.refresh_from_db()
    assert world.clinician.status == Membership.Status.ACTIVE
    home = clinician.get(world.url())
    assert home.status_code == 200
    assert caseload_names(home) == {"Kim Solo", "Sia Together"}


def test_deactivation_only_affects_the_one_practice(world, world_b, as_member):
    MembershipFactory(practice=world_b.practice, user=world.clinician.user)
    clinician = browser_for(world.clinician)

    as_member(world.admin).post(world.url(f"staff/{world.clinician.pk}/deactivate/"))

    assert clinician.get(world.url()).status_code == 404
    assert clinician.get(world_b.url()).status_code == 200


def test_admin_cannot_deactivate_themselves(world, as_member):
    admin = as_member(world.admin)

    response = admin.post(world.url(f"staff/{world.admin.pk}/deactivate/"), follow=True)

    assert response.status_code == 200
    assert "You cannot deactivate yourself." in response.content.decode()
    world.admin.refresh_from_db()
    assert world.admin.status == Membership.Status.ACTIVE
    assert admin.get(world.url("staff/")).status_code == 200


def test_admin_can_deactivate_another_admin(world, as_member):
    second_admin = MembershipFactory(practice=world.practice, role=Membership.Role.ADMIN)
    other = browser_for(second_admin)

    as_member(world.admin).post(world.url(f"staff/{second_admin.pk}/deactivate/"))

    assert other.get(world.url("staff/")).status_code == 404


def test_admin_cannot_deactivate_a_client_through_the_staff_pages(world, as_member):
    response = as_member(world.admin).post(
        world.url(f"staff/{world.client.membership_id}/deactivate/")
    )

    assert response.status_code == 404
    world.client.membership.refresh_from_db()
    assert world.client.membership.status == Membership.Status.ACTIVE


def test_admin_cannot_deactivate_staff_of_another_practice(world, world_b, as_member):
    response = as_member(world.admin).post(world.url(f"staff/{world_b.clinician.pk}/deactivate/"))

    assert response.status_code == 404
    world_b.clinician.refresh_from_db()
    assert world_b.clinician.status == Membership.Status.ACTIVE


def test_deactivating_an_invited_person_revokes_their_link_and_reactivating_sends_a_new_one(
    world, as_member, django_capture_on_commit_callbacks
):
    admin = as_member(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            world.url("staff/invite/"), {"email": "pending@example.test", "role": "clinician"}
        )
    membership = Membership.unscoped.get(email="pending@example.test")
    first = Invitation.unscoped.get(membership=membership)

    admin.post(world.url(f"staff/{membership.pk}/deactivate/"))
    first.refresh_from_db()
    assert first.revoked_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(world.url(f"staff/{membership.pk}/reactivate/"))

    membership.refresh_from_db()
    assert membership.status == Membership.Status.INVITED
    latest = Invitation.unscoped.filter(membership=membership).latest("created_at")
    assert latest.pk != first.pk and latest.state == Invitation.State.PENDING
    assert len(mail.outbox) == 2


STAFF_PAGES = [
    ("get", "staff/"),
    ("get", "staff/invite/"),
    ("post", "staff/invite/"),
    ("post", "staff/{clinician2}/deactivate/"),
    ("post", "staff/{clinician2}/reactivate/"),
    ("post", "staff/{clinician2}/resend/"),
    ("post", "staff/{clinician2}/revoke/"),
]


@pytest.mark.parametrize("role", ["clinician", "client"])
@pytest.mark.parametrize("method,path", STAFF_PAGES)
def test_clinicians_and_clients_get_404_on_staff_pages(
    world, role, method, path, django_capture_on_commit_callbacks
):
    member = world.clinician if role == "clinician" else world.client.membership
    http = browser_for(member)
    url = world.url(path.format(clinician2=world.clinician2.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(http, method)(url, {"email": "x@example.test", "role": "admin"})

    assert response.status_code == 404
    world.clinician2.refresh_from_db()
    assert world.clinician2.status == Membership.Status.ACTIVE
    assert not Membership.unscoped.filter(email="x@example.test").exists()
    assert mail.outbox == []


# --- Creating clients ---------------------------------------------------------------------------


def test_admin_creates_a_client_with_an_invitation(
    world, as_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world.admin).post(
            world.url("clients/new/"),
            new_client_data(email=" Nina@Example.TEST ", phone=" 0123 456 "),
        )

    client = Client.unscoped.get(practice=world.practice, last_name="Newcome")
    assert response.status_code == 302
    assert response["Location"] == world.url(f"clients/{client.pk}/")
    assert client.first_name == "Nina"
    assert client.phone == "0123 456"
    assert client.created_by_id == world.admin.pk
    assert client.membership.email == "nina@example.test"
    assert client.membership.role == Membership.Role.CLIENT
    assert client.membership.status == Membership.Status.INVITED
    assert client.membership.user_id is None
    # An admin is not the client's clinician.
    assert open_team(client) == set()
    invitation = Invitation.unscoped.get(membership=client.membership)
    assert invitation.sent_at is not None
    assert [m.to for m in mail.outbox] == [["nina@example.test"]]
    assert "Nina" not in mail.outbox[0].body and "Newcome" not in mail.outbox[0].body


def test_admin_creates_a_client_without_an_invitation(
    world, as_member, django_capture_on_commit_callbacks
):
    admin = as_member(world.admin)
    data = new_client_data()
    del data["send_invitation"]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(world.url("clients/new/"), data)

    assert response.status_code == 302
    client = Client.unscoped.get(practice=world.practice, last_name="Newcome")
    assert client.membership.status == Membership.Status.INVITED
    assert not Invitation.unscoped.filter(membership=client.membership).exists()
    assert mail.outbox == []
    detail = admin.get(response["Location"]).content.decode()
    assert "Send an invitation" in detail
    assert "Nina Newcome was added." in detail


def test_clinician_who_creates_a_client_gets_them_on_their_caseload(
    world, as_member, django_capture_on_commit_callbacks
):
    http = as_member(world.clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(world.url("clients/new/"), new_client_data())

    assert response.status_code == 302
    client = Client.unscoped.get(practice=world.practice, last_name="Newcome")
    assert open_team(client) == {world.clinician.pk}
    assert http.get(response["Location"]).status_code == 200
    assert "Nina Newcome" in caseload_names(http.get(world.url()))
    # Not on anybody else's caseload.
    assert browser_for(world.clinician2).get(response["Location"]).status_code == 404


@pytest.mark.parametrize(
    "email_of", ["client", "client_upper", "staff", "invited_staff"]
)
def test_duplicate_client_email_is_a_form_error_and_creates_nothing(
    world, as_member, email_of, django_capture_on_commit_callbacks
):
    MembershipFactory(practice=world.practice, user=None, email="invited.staff@example.test",
                      status=Membership.Status.INVITED)
    email = {
        "client": world.client.email,
        "client_upper": world.client.email.upper(),
        "staff": world.clinician2.user.email,
        "invited_staff": "invited.staff@example.test",
    }[email_of]
    clients_before = Client.unscoped.count()
    memberships_before = Membership.unscoped.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world.admin).post(world.url("clients/new/"),
                                               new_client_data(email=email))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "Someone with this e-mail address is already in the practice."
    ]
    assert "already in the practice" in response.content.decode()
    assert Client.unscoped.count() == clients_before
    assert Membership.unscoped.count() == memberships_before
    assert mail.outbox == []


def test_same_client_email_in_another_practice_is_fine(
    world, world_b, as_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world_b.admin).post(
            world_b.url("clients/new/"), new_client_data(email=world.client.email)
        )

    assert response.status_code == 302
    assert Client.unscoped.filter(
        practice=world_b.practice, membership__email=world.client.email
    ).exists()


def test_client_form_requires_names_and_a_valid_email(world, as_member):
    response = as_member(world.admin).post(
        world.url("clients/new/"), new_client_data(first_name="", email="not-an-email")
    )

    assert response.status_code == 200
    assert {"first_name", "email"} <= set(response.context["form"].errors)
    assert not Client.unscoped.filter(last_name="Newcome").exists()


def test_clients_cannot_create_clients(world):
    response = browser_for(world.client.membership).post(
        world.url("clients/new/"), new_client_data()
    )

    assert response.status_code == 404
    assert not Client.unscoped.filter(last_name="Newcome").exists()


# --- Care teams: assign, transfer, unassign -----------------------------------------------------


def test_admin_adds_a_second_clinician_for_shared_care(world, as_member):
    clinician2 = browser_for(world.clinician2)
    assert clinician2.get(world.url(f"clients/{world.client.pk}/")).status_code == 404

    response = as_member(world.admin).post(
        world.url(f"clients/{world.client.pk}/assign/"), {"clinician": world.clinician2.pk}
    )

    assert response.status_code == 302
    assert open_team(world.client) == {world.clinician.pk, world.clinician2.pk}
    assert clinician2.get(world.url(f"clients/{world.client.pk}/")).status_code == 200
    assert "Kim Solo" in caseload_names(clinician2.get(world.url()))
    # Both clinicians see it as shared care.
    assert "shared care" in browser_for(world.clinician).get(world.url()).content.decode()


def test_assigning_the_same_clinician_twice_keeps_one_assignment(world, as_member):
    admin = as_member(world.admin)
    for _ in range(2):
        admin.post(world.url(f"clients/{world.client.pk}/assign/"),
                   {"clinician": world.clinician2.pk})

    assert CaseloadAssignment.unscoped.filter(
        client=world.client, clinician=world.clinician2, ended_at__isnull=True
    ).count() == 1


@pytest.mark.parametrize("who", ["other_practice", "client", "inactive"])
def test_only_active_staff_of_the_practice_can_be_assigned(world, world_b, as_member, who):
    inactive = MembershipFactory(practice=world.practice, status=Membership.Status.INACTIVE)
    candidate = {
        "other_practice": world_b.clinician,
        "client": world.other_client.membership,
        "inactive": inactive,
    }[who]

    response = as_member(world.admin).post(
        world.url(f"clients/{world.client.pk}/assign/"), {"clinician": candidate.pk}, follow=True
    )

    assert response.status_code == 200
    assert "Choose a clinician from the list." in response.content.decode()
    assert open_team(world.client) == {world.clinician.pk}


def test_clinicians_cannot_change_care_teams(world):
    clinician = browser_for(world.clinician)

    assign = clinician.post(world.url(f"clients/{world.client.pk}/assign/"),
                            {"clinician": world.clinician2.pk})
    transfer = clinician.post(
        world.url(f"clients/{world.client.pk}/transfer/"),
        {"from_clinician": world.clinician.pk, "to_clinician": world.clinician2.pk},
    )
    unassign = clinician.post(
        world.url(f"clients/{world.shared_client.pk}/unassign/{world.clinician2.pk}/")
    )

    assert (assign.status_code, transfer.status_code, unassign.status_code) == (404, 404, 404)
    assert open_team(world.client) == {world.clinician.pk}
    assert open_team(world.shared_client) == {world.clinician.pk, world.clinician2.pk}


def test_transfer_moves_the_client_from_one_clinician_to_another(world, as_member):
    clinician_a = browser_for(world.clinician)
    clinician_b = browser_for(world.clinician2)
    url = world.url(f"clients/{world.client.pk}/")

    response = as_member(world.admin).post(
        world.url(f"clients/{world.client.pk}/transfer/"),
        {"from_clinician": world.clinician.pk, "to_clinician": world.clinician2.pk},
    )

    assert response.status_code == 302
    assert open_team(world.client) == {world.clinician2.pk}
    assert clinician_a.get(url).status_code == 404
    assert clinician_b.get(url).status_code == 200
    assert "Kim Solo" not in caseload_names(clinician_a.get(world.url()))
    assert "Kim Solo" in caseload_names(clinician_b.get(world.url()))
    # History is kept: A's assignment is ended, not deleted.
    ended = CaseloadAssignment.unscoped.get(client=world.client, clinician=world.clinician)
    assert ended.ended_at is not None


def test_transfer_from_a_deactivated_clinician(world, as_member):
    admin = as_member(world.admin)
    admin.post(world.url(f"staff/{world.clinician.pk}/deactivate/"))
    detail = admin.get(world.url(f"clients/{world.client.pk}/"))
    assert 'class="badge warn">deactivated' in detail.content.decode()

    admin.post(
        world.url(f"clients/{world.client.pk}/transfer/"),
        {"from_clinician": world.clinician.pk, "to_clinician": world.clinician2.pk},
    )

    assert open_team(world.client) == {world.clinician2.pk}


def test_transfer_to_a_deactivated_clinician_is_refused(world, as_member):
    admin = as_member(world.admin)
    admin.post(world.url(f"staff/{world.clinician2.pk}/deactivate/"))

    admin.post(
        world.url(f"clients/{world.client.pk}/transfer/"),
        {"from_clinician": world.clinician.pk, "to_clinician": world.clinician2.pk},
    )

    assert open_team(world.client) == {world.clinician.pk}


def test_unassign_removes_one_clinician_from_shared_care(world, as_member):
    clinician = browser_for(world.clinician)
    clinician2 = browser_for(world.clinician2)
    url = world.url(f"clients/{world.shared_client.pk}/")

    response = as_member(world.admin).post(
        world.url(f"clients/{world.shared_client.pk}/unassign/{world.clinician.pk}/")
    )

    assert response.status_code == 302
    assert open_team(world.shared_client) == {world.clinician2.pk}
    assert clinician.get(url).status_code == 404
    assert clinician2.get(url).status_code == 200


def test_unassigning_someone_not_on_the_team_is_404(world, as_member):
    response = as_member(world.admin).post(
        world.url(f"clients/{world.client.pk}/unassign/{world.clinician2.pk}/")
    )

    assert response.status_code == 404
    assert open_team(world.client) == {world.clinician.pk}


# --- Discharge ----------------------------------------------------------------------------------


def test_discharge_ends_care_and_the_client_home_says_so(world, as_member):
    clinician = browser_for(world.clinician)
    client_browser = browser_for(world.shared_client.membership)

    response = discharge(as_member(world.admin), world, world.shared_client)

    assert response.status_code == 302
    world.shared_client.refresh_from_db()
    assert world.shared_client.discharged_at is not None
    assert open_team(world.shared_client) == set()
    assert CaseloadAssignment.unscoped.filter(client=world.shared_client).count() == 2
    # The clinicians lose the client.
    assert "Sia Together" not in caseload_names(clinician.get(world.url()))
    assert clinician.get(world.url(f"clients/{world.shared_client.pk}/")).status_code == 404
    # The client can still sign in and is told their care has ended.
    home = client_browser.get(world.url())
    assert home.status_code == 200
    body = home.content.decode()
    assert "Your time in care with the practice has ended" in body
    assert "No clinician is working with you at the moment" in body
    assert "hasn't assigned a clinician yet" not in body


def test_discharge_needs_the_confirmation_box(world, as_member):
    response = as_member(world.admin).post(
        world.url(f"clients/{world.client.pk}/discharge/"), follow=True
    )

    assert "Nothing was changed" in response.content.decode()
    world.client.refresh_from_db()
    assert world.client.discharged_at is None
    assert open_team(world.client) == {world.clinician.pk}


def test_clinician_discharges_their_own_client(world):
    clinician = browser_for(world.clinician)

    response = discharge(clinician, world, world.client)

    assert response.status_code == 302
    assert response["Location"] == world.url()
    world.client.refresh_from_db()
    assert world.client.is_discharged
    assert caseload_names(clinician.get(world.url())) == {"Sia Together"}


def test_clinician_cannot_discharge_someone_elses_client(world):
    response = discharge(browser_for(world.clinician), world, world.other_client)

    assert response.status_code == 404
    world.other_client.refresh_from_db()
    assert world.other_client.discharged_at is None


def test_discharged_client_cannot_be_reassigned_or_invited(
    world, as_member, django_capture_on_commit_callbacks
):
    admin = as_member(world.admin)
    Membership.unscoped.filter(pk=world.client.membership_id).update(
        status=Membership.Status.INVITED
    )
    discharge(admin, world, world.client)

    assigned = admin.post(world.url(f"clients/{world.client.pk}/assign/"),
                          {"clinician": world.clinician.pk}, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        invited = admin.post(world.url(f"clients/{world.client.pk}/invite/"), follow=True)

    assert "This client has been discharged." in assigned.content.decode()
    assert "This client has been discharged." in invited.content.decode()
    assert open_team(world.client) == set()
    assert not Invitation.unscoped.filter(membership=world.client.membership).exists()
    assert mail.outbox == []


def test_discharged_clients_leave_the_admin_list_unless_asked_for(world, as_member):
    admin = as_member(world.admin)
    discharge(admin, world, world.client)

    default = admin.get(world.url("clients/"))
    with_discharged = admin.get(world.url("clients/?discharged=1"))

    assert "Kim Solo" not in {c.full_name for c in default.context["clients"]}
    assert "Kim Solo" in {c.full_name for c in with_discharged.context["clients"]}


# --- Home pages ---------------------------------------------------------------------------------


def test_clinician_home_lists_exactly_their_assigned_clients(world, world_b):
    page = browser_for(world.clinician).get(world.url())

    assert page.status_code == 200
    assert caseload_names(page) == {"Kim Solo", "Sia Together"}
    body = page.content.decode()
    assert "Kim Solo" in body and "Sia Together" in body
    assert "Otto Elsewhere" not in body
    for client in (world_b.client, world_b.other_client, world_b.shared_client):
        assert client.full_name not in body


def test_clinician_home_leaves_out_ended_assignments(world, as_member):
    CaseloadAssignment.unscoped.filter(client=world.client).update(ended_at="2020-01-01T00:00Z")

    page = browser_for(world.clinician).get(world.url())

    assert caseload_names(page) == {"Sia Together"}


def test_client_home_shows_the_practice_and_their_clinicians(world):
    page = browser_for(world.shared_client.membership).get(world.url())

    assert page.status_code == 200
    body = page.content.decode()
    assert world.practice.name in body
    assert "Hello, Sia" in body
    assert "Cleo Carefield" in body and "Dev Deepwater" in body
    assert "Ada Adminton" not in body
    assert "Otto Elsewhere" not in body and "Kim Solo" not in body


def test_client_home_of_a_single_clinician_client(world):
    body = browser_for(world.client.membership).get(world.url()).content.decode()

    assert "Cleo Carefield" in body
    assert "Dev Deepwater" not in body


def test_clients_see_only_their_own_things(world):
    http = browser_for(world.client.membership)

    assert http.get(world.url("clients/")).status_code == 404
    assert http.get(world.url(f"clients/{world.client.pk}/")).status_code == 404
    assert http.get(world.url(f"clients/{world.other_client.pk}/")).status_code == 404


def test_admin_home_counts_staff_and_clients(world, as_member):
    page = as_member(world.admin).get(world.url())

    assert page.context["staff_count"] == 3
    assert page.context["client_count"] == 3
    assert "3 active staff members · 3 clients in care" in page.content.decode()


# --- Client list and search ---------------------------------------------------------------------


def list_names(http, world, query=""):
    response = http.get(world.url("clients/"), {"q": query} if query else {})
    assert response.status_code == 200
    return {c.full_name for c in response.context["clients"]}


def test_admin_client_list_shows_every_client_with_their_care_team(world, world_b, as_member):
    admin = as_member(world.admin)
    page = admin.get(world.url("clients/"))

    assert {c.full_name for c in page.context["clients"]} == {
        "Kim Solo", "Otto Elsewhere", "Sia Together"
    }
    body = page.content.decode()
    assert "Cleo Carefield, Dev Deepwater" in body or "Dev Deepwater, Cleo Carefield" in body
    assert world_b.client.full_name not in body


@pytest.mark.parametrize(
    "query,expected",
    [
        ("solo", {"Kim Solo"}),
        ("SIA", {"Sia Together"}),
        ("er", {"Otto Elsewhere", "Sia Together"}),
        ("c1@mail", {"Otto Elsewhere"}),
        ("nobody-called-this", set()),
    ],
)
def test_admin_search_by_name(world, as_member, query, expected):
    assert list_names(as_member(world.admin), world, query) == expected


def test_admin_search_by_email(world, as_member):
    Membership.unscoped.filter(pk=world.other_client.membership_id).update(
        email="otto.private@example.test"
    )

    assert list_names(as_member(world.admin), world, "otto.private@") == {"Otto Elsewhere"}


def test_clinician_search_stays_within_their_caseload(world):
    clinician = browser_for(world.clinician)

    assert list_names(clinician, world) == {"Kim Solo", "Sia Together"}
    assert list_names(clinician, world, "Otto") == set()
    assert list_names(clinician, world, "together") == {"Sia Together"}


def test_search_with_no_match_says_so(world, as_member):
    page = as_member(world.admin).get(world.url("clients/"), {"q": "zzz"})

    assert "No clients match" in page.content.decode()


# --- Constant query counts ----------------------------------------------------------------------


def add_clients(world, count, clinicians):
    for i in range(count):
        client = ClientFactory(practice=world.practice)
        for clinician in clinicians[i % len(clinicians)]:
            AssignmentFactory(practice=world.practice, client=client, clinician=clinician)


def queries_for(http, url):
    with CaptureQueriesContext(connection) as queries:
        response = http.get(url)
    assert response.status_code == 200
    return len(queries), response


def test_clinician_home_uses_a_constant_number_of_queries(world):
    extra = MembershipFactory(practice=world.practice)
    # Some clients in shared care with another clinician (whose name the page may load).
    teams = [[world.clinician], [world.clinician, extra], [world.clinician, world.clinician2]]
    add_clients(world, 8, teams)  # 8 + the 2 from the world = 10
    http = browser_for(world.clinician)
    http.get(world.url())  # warm up (session, content types)

    small, page = queries_for(http, world.url())
    assert len(page.context["caseload"]) == 10

    add_clients(world, 50, teams)
    large, page = queries_for(http, world.url())
    assert len(page.context["caseload"]) == 60

    assert small == large


def test_admin_client_list_uses_a_constant_number_of_queries(world):
    clinicians = [MembershipFactory(practice=world.practice) for _ in range(4)]
    teams = [[c] for c in clinicians] + [[clinicians[0], clinicians[1]], []]
    add_clients(world, 7, teams)  # 7 + the 3 from the world = 10
    http = browser_for(world.admin)
    http.get(world.url("clients/"))

    small, page = queries_for(http, world.url("clients/"))
    assert len(page.context["clients"]) == 10

    add_clients(world, 50, teams)
    large, page = queries_for(http, world.url("clients/"))
    assert len(page.context["clients"]) == 60
    assert "unassigned" in page.content.decode()

    assert small == large


def test_admin_home_uses_a_constant_number_of_queries(world):
    add_clients(world, 7, [[world.admin]])
    http = browser_for(world.admin)
    http.get(world.url())

    small, _ = queries_for(http, world.url())
    add_clients(world, 50, [[world.admin], [world.admin, world.clinician]])
    large, page = queries_for(http, world.url())

    assert page.context["client_count"] == 60
    assert small == large
