"""A signed-in person opens a new practice at /practices/new/ and becomes its first admin."""

import pytest

from accounts.models import Membership
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice
from portal.testing import UserFactory, enroll_totp

URL = "/practices/new/"


@pytest.fixture
def user(db):
    user = UserFactory(first_name="Robin", last_name="Ash")
    enroll_totp(user)  # new practices require MFA of their staff (see the test below)
    return user


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_signed_in_user_creates_a_practice_and_becomes_its_active_admin(signed_in, user):
    response = signed_in.post(
        URL, {"name": "Willow Therapy", "slug": "willow", "time_zone": "Europe/Berlin"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/p/willow/"
    practice = Practice.objects.get(slug="willow")
    assert practice.name == "Willow Therapy"
    assert practice.time_zone == "Europe/Berlin"
    assert practice.is_active
    memberships = list(Membership.unscoped.filter(practice=practice))
    assert len(memberships) == 1
    (membership,) = memberships
    assert membership.user_id == user.pk
    assert membership.role == Membership.Role.ADMIN
    assert membership.status == Membership.Status.ACTIVE
    assert membership.email == user.email

    home = signed_in.get("/p/willow/")
    assert home.status_code == 200
    assert home.wsgi_request.membership.pk == membership.pk
    assert "Willow Therapy is ready" in home.content.decode()
    # The new admin can manage staff straight away.
    assert signed_in.get("/p/willow/staff/").status_code == 200


def test_the_new_practice_is_where_a_single_practice_user_lands(signed_in):
    signed_in.post(URL, {"name": "Willow Therapy", "slug": "willow", "time_zone": "UTC"})

    assert signed_in.get("/")["Location"] == "/p/willow/"


def test_empty_slug_is_derived_from_the_name(signed_in, user):
    response = signed_in.post(
        URL, {"name": "  Ørsted & Søn Counselling ", "slug": "", "time_zone": "UTC"}
    )

    assert response.status_code == 302
    practice = Practice.objects.get()
    assert practice.slug == "rsted-sn-counselling"
    assert practice.name == "Ørsted & Søn Counselling"
    assert response["Location"] == f"/p/{practice.slug}/"


def test_derived_slug_is_cut_to_the_field_length(signed_in):
    name = "Counselling" * 10  # 110 letters, one word
    response = signed_in.post(URL, {"name": name, "slug": "", "time_zone": "UTC"})

    assert response.status_code == 302
    practice = Practice.objects.get()
    assert practice.slug == ("counselling" * 10)[:60]


def test_name_without_letters_or_digits_needs_an_explicit_slug(signed_in):
    response = signed_in.post(URL, {"name": "&&&", "slug": "", "time_zone": "UTC"})

    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert not Practice.objects.exists()


def test_taken_slug_gives_a_clear_error_and_creates_nothing(signed_in, world_a):
    before_practices = Practice.objects.count()
    before_memberships = Membership.unscoped.count()

    response = signed_in.post(
        URL, {"name": "Another Alpha", "slug": world_a.practice.slug, "time_zone": "UTC"}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["slug"] == ["That web address is taken. Try another."]
    assert "That web address is taken" in response.content.decode()
    assert Practice.objects.count() == before_practices
    assert Membership.unscoped.count() == before_memberships
    assert not Practice.objects.filter(name="Another Alpha").exists()


def test_slug_derived_from_a_taken_name_also_gives_the_error(signed_in, world_a):
    # world_a's practice is "Alpha" at /p/alpha/.
    response = signed_in.post(URL, {"name": "Alpha", "slug": "", "time_zone": "UTC"})

    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert Practice.objects.filter(slug="alpha").count() == 1


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "", "localtime", "europe/london"])
def test_invalid_time_zone_is_rejected(signed_in, time_zone):
    response = signed_in.post(URL, {"name": "Willow", "slug": "willow", "time_zone": time_zone})

    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors
    assert not Practice.objects.exists()
    assert not Membership.unscoped.exists()


@pytest.mark.parametrize("slug", ["has space", "UPPER/slash", "dots.are.not.ok"])
def test_invalid_slug_is_rejected(signed_in, slug):
    response = signed_in.post(URL, {"name": "Willow", "slug": slug, "time_zone": "UTC"})

    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert not Practice.objects.exists()


def test_missing_name_is_rejected(signed_in):
    response = signed_in.post(URL, {"name": "", "slug": "willow", "time_zone": "UTC"})

    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not Practice.objects.exists()


def test_form_page_renders_for_a_signed_in_user(signed_in):
    page = signed_in.get(URL)

    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="name"' in body and 'name="slug"' in body and 'name="time_zone"' in body


def test_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.post(URL, {"name": "Willow", "slug": "willow", "time_zone": "UTC"})

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"
    assert not Practice.objects.exists()


def test_creating_a_second_practice_keeps_the_first(signed_in, user, world_a):
    with practice_scope(world_a.practice):
        Membership.objects.create(
            practice=world_a.practice,
            user=user,
            email=user.email,
            role=Membership.Role.CLINICIAN,
            status=Membership.Status.ACTIVE,
        )

    signed_in.post(URL, {"name": "Willow", "slug": "willow", "time_zone": "UTC"})

    picker = signed_in.get("/")
    assert picker.status_code == 200
    assert {m.practice.slug for m in picker.context["memberships"]} == {"alpha", "willow"}
    assert signed_in.get("/p/willow/").wsgi_request.membership.role == Membership.Role.ADMIN
    assert signed_in.get("/p/alpha/").wsgi_request.membership.role == Membership.Role.CLINICIAN


def test_a_new_admin_without_mfa_is_sent_to_set_it_up_first(client, db):
    newcomer = UserFactory()
    client.force_login(newcomer)

    client.post(URL, {"name": "Willow Therapy", "slug": "willow", "time_zone": "UTC"})

    assert Practice.objects.get(slug="willow").require_staff_mfa is True  # the default
    home = client.get("/p/willow/")
    assert home.status_code == 302
    assert home["Location"] == "/accounts/2fa/totp/activate/"
    enroll_totp(newcomer)
    assert client.get("/p/willow/").status_code == 200
