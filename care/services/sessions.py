"""Writes for therapy sessions and the client's agenda. Keyword-only, taking the practice and the
acting member; every check that protects the data lives here, not in forms or views.

Times are aware datetimes: the form turns the practice's local date and time into one.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership
from care.models import AgendaItem, CaseloadAssignment, Client, Notification, TherapySession
from care.services.notifications import notify
from portal.tenancy.models import Practice

TEXT_MAX_CHARS = 2000
DURATION_MIN, DURATION_MAX = 5, 480

OUTSTANDING = (AgendaItem.Status.OPEN, AgendaItem.Status.CARRIED_OVER)
# A session that did not take place: its open topics move on to the next one.
DID_NOT_HAPPEN = (TherapySession.Status.CANCELLED, TherapySession.Status.NO_SHOW)
_UNSET = object()


# --- checks shared by the writes -----------------------------------------------------------------


def require_care_team(actor: Membership, client: Client) -> None:
    """Staff who may act on this client's care: any admin, or a clinician on the care team."""
    if actor.role == Membership.Role.ADMIN:
        return
    if (
        actor.role == Membership.Role.CLINICIAN
        and CaseloadAssignment.objects.filter(
            client=client, clinician=actor, ended_at__isnull=True
        ).exists()
    ):
        return
    raise ValidationError("Only the client's care team can do this.")


def require_the_client(actor: Membership, client: Client) -> None:
    if actor.role != Membership.Role.CLIENT or client.membership_id != actor.pk:
        raise ValidationError("Only the client can do this.")


def require_in_care(client: Client) -> None:
    if client.is_discharged:
        raise ValidationError("This client's time in care has ended, so nothing new can be added.")


def clean_text(
    text: str, *, required: bool, empty_message: str = "Please write a few words."
) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError(empty_message)
    if len(text) > TEXT_MAX_CHARS:
        raise ValidationError(
            f"Please keep this to {TEXT_MAX_CHARS} characters or fewer (it has {len(text)})."
        )
    return text


def lock_client(client: Client) -> None:
    """Serialise writes about one client (a double submit waits here, then finds the first)."""
    list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk", flat=True))


def _validate_session(*, starts_at: datetime, duration_minutes, status: str, modality: str) -> None:
    errors = {}
    if starts_at is None or timezone.is_naive(starts_at):
        errors["starts_at"] = "Enter the date and time of the session."
    if (
        not isinstance(duration_minutes, int)
        or isinstance(duration_minutes, bool)
        or not DURATION_MIN <= duration_minutes <= DURATION_MAX
    ):
        errors["duration_minutes"] = (
            f"A session lasts between {DURATION_MIN} and {DURATION_MAX} minutes (8 hours)."
        )
    if status not in TherapySession.Status.values:
        errors["status"] = "Choose a status from the list."
    elif (
        status in (TherapySession.Status.ATTENDED, TherapySession.Status.NO_SHOW)
        and "starts_at" not in errors
        and starts_at > timezone.now()
    ):
        errors["status"] = "A session can be marked attended or missed once it has started."
    if modality not in TherapySession.Modality.values:
        errors["modality"] = "Choose in person or video."
    if errors:
        raise ValidationError(errors)


def _session_clinician(
    *, actor: Membership, client: Client, clinician: Membership | None, keep_id: int | None = None
) -> Membership:
    """Who sees the client: the acting clinician by default; one of the client's care team."""
    team = {
        a.clinician_id: a.clinician
        for a in CaseloadAssignment.objects.filter(
            client=client, ended_at__isnull=True
        ).select_related("clinician")
    }
    if clinician is None:
        if actor.pk in team:
            return actor
        active = [m for m in team.values() if m.status == Membership.Status.ACTIVE]
        if len(active) == 1:
            return active[0]
        if not team:
            raise ValidationError("Add a clinician to this client's care team first.")
        raise ValidationError({"clinician": "Choose the clinician the client will see."})
    if clinician.pk == keep_id:
        return clinician  # an existing session keeps its clinician after a transfer
    if clinician.pk not in team:
        raise ValidationError({"clinician": "Choose a clinician from the client's care team."})
    return clinician


def next_scheduled_session(
    client: Client, *, after: datetime | None = None
) -> TherapySession | None:
    """The first session still to come (or after `after`, if that is later)."""
    now = timezone.now()
    after = max(after, now) if after is not None else now
    return (
        TherapySession.objects.filter(
            client=client, status=TherapySession.Status.SCHEDULED, starts_at__gt=after
        )
        .order_by("starts_at", "id")
        .first()
    )


def _reattach_agenda(client: Client) -> None:
    """Open topics with no session, or on a session that did not take place, go to the next one."""
    waiting = AgendaItem.objects.filter(client=client, status__in=OUTSTANDING).filter(
        Q(session__isnull=True) | Q(session__status__in=DID_NOT_HAPPEN)
    )
    target = next_scheduled_session(client)
    if target is not None:
        waiting.update(session=target)
    else:
        waiting.exclude(session__isnull=True).update(session=None)


# --- sessions -----------------------------------------------------------------------------------


@transaction.atomic
def schedule_session(
    *,
    practice: Practice,
    actor: Membership,
    client: Client,
    starts_at: datetime,
    duration_minutes: int = 50,
    modality: str = TherapySession.Modality.IN_PERSON,
    status: str = TherapySession.Status.SCHEDULED,
    clinician: Membership | None = None,
) -> TherapySession:
    """Book (or record) a session. The same start for the same client twice books it once."""
    require_care_team(actor, client)
    require_in_care(client)
    _validate_session(
        starts_at=starts_at, duration_minutes=duration_minutes, status=status, modality=modality
    )
    clinician = _session_clinician(actor=actor, client=client, clinician=clinician)
    lock_client(client)
    existing = (
        TherapySession.objects.filter(client=client, starts_at=starts_at)
        .exclude(status=TherapySession.Status.CANCELLED)
        .first()
    )
    if existing is not None:
        return existing
    session = TherapySession.objects.create(
        practice=practice,
        client=client,
        clinician=clinician,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        modality=modality,
        status=status,
        created_by=actor,
    )
    _reattach_agenda(client)
    return session


@transaction.atomic
def update_session(
    *,
    practice: Practice,
    actor: Membership,
    session: TherapySession,
    starts_at: datetime | object = _UNSET,
    duration_minutes: int | object = _UNSET,
    modality: str | object = _UNSET,
    status: str | object = _UNSET,
    clinician: Membership | None | object = _UNSET,
) -> TherapySession:
    """Change a session: reschedule it, or record what happened (attended, cancelled, ...).

    Topics waiting for a session that is cancelled or missed move to the next scheduled one.
    """
    client = session.client
    require_care_team(actor, client)
    values = {
        "starts_at": session.starts_at if starts_at is _UNSET else starts_at,
        "duration_minutes": session.duration_minutes
        if duration_minutes is _UNSET
        else duration_minutes,
        "modality": session.modality if modality is _UNSET else modality,
        "status": session.status if status is _UNSET else status,
    }
    _validate_session(**values)
    if clinician is not _UNSET and clinician is not None and clinician.pk != session.clinician_id:
        values["clinician"] = _session_clinician(
            actor=actor, client=client, clinician=clinician, keep_id=session.clinician_id
        )
    changed = [f for f, v in values.items() if getattr(session, f) != v]
    if not changed:
        return session
    lock_client(client)
    for field, value in values.items():
        setattr(session, field, value)
    session.save(update_fields=changed)
    _reattach_agenda(client)
    return session


def set_session_status(
    *, practice: Practice, actor: Membership, session: TherapySession, status: str
) -> TherapySession:
    return update_session(practice=practice, actor=actor, session=session, status=status)


# --- the client's agenda ------------------------------------------------------------------------


@transaction.atomic
def add_agenda_item(
    *,
    practice: Practice,
    actor: Membership,
    client: Client,
    text: str,
    kind: str = AgendaItem.Kind.DISCUSS,
) -> AgendaItem:
    """A topic the client wants to talk about (or not today), for their next scheduled session.

    The same open topic twice is added once; the care team hears about a new one.
    """
    require_the_client(actor, client)
    require_in_care(client)
    if kind not in AgendaItem.Kind.values:
        raise ValidationError({"kind": "Choose one of the two options."})
    text = clean_text(
        text, required=True, empty_message="Write a few words about the topic, in your own words."
    )
    lock_client(client)
    existing = AgendaItem.objects.filter(
        client=client, kind=kind, text=text, status__in=OUTSTANDING
    ).first()
    if existing is not None:
        return existing
    item = AgendaItem.objects.create(
        practice=practice,
        client=client,
        session=next_scheduled_session(client),
        kind=kind,
        text=text,
        created_by=actor,
    )
    notify(
        practice=practice, actor=actor, client=client, kind=Notification.Kind.AGENDA, area="agenda"
    )
    return item


@transaction.atomic
def withdraw_agenda_item(*, practice: Practice, actor: Membership, item: AgendaItem) -> None:
    """The client takes back a topic that has not been talked about yet."""
    require_the_client(actor, item.client)
    if item.status not in OUTSTANDING:
        raise ValidationError(
            "This topic has been talked about already, so it stays in your history."
        )
    AgendaItem.objects.filter(pk=item.pk, status__in=OUTSTANDING).delete()


@transaction.atomic
def handle_agenda_item(
    *,
    practice: Practice,
    actor: Membership,
    item: AgendaItem,
    outcome: str,
    seen_session_id: int | None | object = _UNSET,
) -> AgendaItem:
    """The clinician marks a topic talked about, or carries it over to the next session.

    `seen_session_id` is the session the item was on when the clinician looked at it: a repeated
    "carry over" for an item that has moved since then changes nothing.
    """
    client = item.client
    require_care_team(actor, client)
    if outcome not in (AgendaItem.Status.ADDRESSED, AgendaItem.Status.CARRIED_OVER):
        raise ValidationError("Choose whether the topic was talked about or carries over.")
    lock_client(client)
    item = AgendaItem.objects.select_related("session").get(pk=item.pk)
    if item.status == AgendaItem.Status.ADDRESSED:
        if outcome == AgendaItem.Status.ADDRESSED:
            return item
        raise ValidationError("This topic is already marked as talked about.")
    if (
        outcome == AgendaItem.Status.CARRIED_OVER
        and item.status == AgendaItem.Status.CARRIED_OVER
        and seen_session_id is not _UNSET
        and item.session_id != seen_session_id
    ):
        return item  # carried over already by the same click
    item.status = outcome
    item.handled_by = actor
    item.handled_at = timezone.now()
    if outcome == AgendaItem.Status.CARRIED_OVER:
        after = item.session.starts_at if item.session is not None else None
        item.session = next_scheduled_session(client, after=after)
    item.save(update_fields=["status", "handled_by", "handled_at", "session"])
    return item
