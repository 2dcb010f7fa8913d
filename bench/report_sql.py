"""The trend reports' figures as one hand-written SQL statement: the benchmark's reference for
`feedback.services.reports` (bench/reportjob.py times both; bench/tests/test_report_sql.py
checks that they agree, row for row).

Every snapshot row the service writes, for every active practice at once: the practice as a
whole and each active staff member, by week, by month and over the 12-month window, with the
same rules — the window in the practice's time zone, responses marked entered in error left
out, check-ins counted for the clinician on the response, invitations for the clinician named
on them (due by now, not cancelled), ruptures for the clinician of the check-in that raised
them, each outcome series judged by its instrument's latest reliable-change rule. Each table is
read once and grouped by GROUPING SETS (subject × period); the window row also carries the
client means, the channels and the instrument use.

PostgreSQL only (GROUPING SETS, percentile_cont, jsonb). One parameter: %(now)s.
"""

# Every grouped table: the subject (0 the practice as a whole; -1 the group of check-ins of
# nobody on the staff, which is no subject), and the period of the row.
_SUBJECT = (
    "CASE GROUPING(clinician_id) WHEN 1 THEN 0 ELSE coalesce(clinician_id, -1) END AS subject"
)
_PERIOD = """CASE GROUPING(week, month) WHEN 1 THEN 'week' WHEN 2 THEN 'month' ELSE 'window' END
               AS granularity,
           coalesce(week, month, '-infinity') AS period_start"""
_BY_SUBJECT_AND_PERIOD = """GROUPING SETS (
                   (practice_id, clinician_id, week), (practice_id, clinician_id, month),
                   (practice_id, clinician_id), (practice_id, week), (practice_id, month),
                   (practice_id))"""

SQL = f"""
WITH win AS (
    SELECT p.id AS practice_id, p.time_zone AS tz, d.start_day, d.end_day,
           d.start_day::timestamp AT TIME ZONE p.time_zone AS since,
           d.end_day::timestamp AT TIME ZONE p.time_zone AS until,
           coalesce(fs.rupture_index_below, 9.0) AS cutoff
      FROM tenancy_practice p
      LEFT JOIN feedback_feedbacksettings fs ON fs.practice_id = p.id
     CROSS JOIN LATERAL (
           SELECT (date_trunc('month', (%(now)s::timestamptz AT TIME ZONE p.time_zone)::date
                                       ::timestamp) - interval '11 months')::date AS start_day,
                  (%(now)s::timestamptz AT TIME ZONE p.time_zone)::date + 1 AS end_day) d
     WHERE p.is_active
), staff AS (
    SELECT id FROM accounts_membership WHERE role IN ('admin', 'clinician') AND status = 'active'
), responses AS (
    -- Counted responses in the window, with the subject clinician (NULL unless active staff).
    SELECT r.id, r.practice_id, st.id AS clinician_id, r.client_id, r.submitted_at, r.index,
           i.id AS instrument_id, i.kind, i.key, i.name, w.cutoff,
           CASE v.scoring_rule WHEN 'sum' THEN r.total WHEN 'mean' THEN r.mean ELSE r.index END
               AS score,
           date_trunc('week', r.submitted_at AT TIME ZONE w.tz)::date AS week,
           date_trunc('month', r.submitted_at AT TIME ZONE w.tz)::date AS month
      FROM feedback_checkinresponse r
      JOIN win w ON w.practice_id = r.practice_id
      JOIN feedback_instrumentversion v ON v.id = r.instrument_version_id
      JOIN feedback_instrument i ON i.id = v.instrument_id
      LEFT JOIN staff st ON st.id = r.clinician_id
     WHERE r.entered_in_error_at IS NULL
       AND r.submitted_at >= w.since AND r.submitted_at < w.until
), alliance AS (
    SELECT * FROM responses WHERE kind = 'alliance' AND index IS NOT NULL
), alliance_figures AS (
    SELECT practice_id, {_SUBJECT},
           {_PERIOD},
           count(*) AS checkins, count(DISTINCT client_id) AS clients,
           avg(index) AS index_mean, stddev_samp(index) AS index_sd,
           count(*) FILTER (WHERE index < cutoff) AS below_cutoff
      FROM alliance
     GROUP BY {_BY_SUBJECT_AND_PERIOD}
), client_means AS (
    SELECT practice_id, subject,
           avg(client_mean) AS client_mean_mean, stddev_samp(client_mean) AS client_mean_sd
      FROM (SELECT practice_id, {_SUBJECT}, avg(index) AS client_mean
              FROM alliance
             GROUP BY GROUPING SETS ((practice_id, clinician_id, client_id),
                                     (practice_id, client_id))) per_client
     GROUP BY practice_id, subject
), invitations AS (
    SELECT i.practice_id, st.id AS clinician_id, i.channel, i.status,
           date_trunc('week', i.due_at AT TIME ZONE w.tz)::date AS week,
           date_trunc('month', i.due_at AT TIME ZONE w.tz)::date AS month
      FROM feedback_checkininvitation i
      JOIN win w ON w.practice_id = i.practice_id
      LEFT JOIN staff st ON st.id = i.clinician_id
     WHERE i.due_at <= %(now)s::timestamptz AND i.due_at >= w.since AND i.due_at < w.until
       AND i.status <> 'cancelled'
), sent AS (
    SELECT practice_id, {_SUBJECT},
           {_PERIOD},
           count(*) AS invitations_sent,
           count(*) FILTER (WHERE status = 'completed') AS invitations_completed
      FROM invitations
     GROUP BY {_BY_SUBJECT_AND_PERIOD}
), channels AS (
    SELECT practice_id, subject,
           jsonb_object_agg(channel, jsonb_build_object('sent', n, 'completed', done)) AS channels
      FROM (SELECT practice_id, {_SUBJECT}, channel,
                   count(*) AS n, count(*) FILTER (WHERE status = 'completed') AS done
              FROM invitations
             GROUP BY GROUPING SETS ((practice_id, clinician_id, channel),
                                     (practice_id, channel))) by_channel
     GROUP BY practice_id, subject
), ruptures AS (
    SELECT practice_id, {_SUBJECT},
           {_PERIOD},
           count(*) AS ruptures_detected,
           count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS ruptures_acknowledged,
           count(*) FILTER (WHERE status = 'repaired') AS ruptures_repaired,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM acknowledged_at - created_at)) FILTER (
               WHERE acknowledged_at IS NOT NULL) AS ack_seconds,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM repaired_at - created_at)) FILTER (
               WHERE repaired_at IS NOT NULL) AS repair_seconds
      FROM (SELECT a.practice_id, st.id AS clinician_id, a.status, a.created_at,
                   a.acknowledged_at, a.repaired_at,
                   date_trunc('week', a.created_at AT TIME ZONE w.tz)::date AS week,
                   date_trunc('month', a.created_at AT TIME ZONE w.tz)::date AS month
              FROM feedback_alert a
              JOIN win w ON w.practice_id = a.practice_id
              LEFT JOIN feedback_checkinresponse r ON r.id = a.response_id
              LEFT JOIN staff st ON st.id = r.clinician_id
             WHERE a.kind = 'rupture' AND a.created_at >= w.since AND a.created_at < w.until) a
     GROUP BY {_BY_SUBJECT_AND_PERIOD}
), latest_rule AS (
    SELECT DISTINCT ON (instrument_id) instrument_id, higher_is_better,
           nullif(reliable_change_points, 0) AS points, nullif(reliable_change_sd, 0) AS sd,
           reliable_change_reliability AS reliability
      FROM feedback_instrumentversion
     ORDER BY instrument_id, number DESC
), series AS (
    -- Each client's first and latest score on each outcome measure (with one clinician, for
    -- a clinician's figures).
    SELECT practice_id, {_SUBJECT}, instrument_id,
           (array_agg(score ORDER BY submitted_at, id))[1] AS first,
           (array_agg(score ORDER BY submitted_at DESC, id DESC))[1] AS last
      FROM responses
     WHERE kind = 'outcome'
     GROUP BY GROUPING SETS ((practice_id, clinician_id, client_id, instrument_id),
                             (practice_id, client_id, instrument_id))
    HAVING count(*) >= 2
), changes AS (
    SELECT practice_id, subject, instrument_id, count(*) AS measured,
           count(*) FILTER (WHERE reliable AND (last - first > 0) = higher_is_better)
               AS improved,
           count(*) FILTER (WHERE reliable AND (last - first < 0) = higher_is_better)
               AS deteriorated
      FROM (SELECT s.*, l.higher_is_better,
                   last <> first AND CASE
                       WHEN l.points IS NOT NULL THEN abs(last - first) >= l.points
                       WHEN l.sd IS NOT NULL AND l.reliability IS NOT NULL
                           THEN abs(last - first) / sqrt(2 * (l.sd * sqrt(1 - l.reliability)) ^ 2)
                                >= 1.96
                   END AS reliable
              FROM series s JOIN latest_rule l USING (instrument_id)) judged
     GROUP BY practice_id, subject, instrument_id
), instrument_use AS (
    SELECT u.practice_id, u.subject,
           jsonb_agg(jsonb_build_object(
               'key', u.key, 'name', u.name, 'outcome', u.kind = 'outcome',
               'responses', u.responses, 'clients', u.clients,
               'measured', coalesce(c.measured, 0), 'improved', coalesce(c.improved, 0),
               'deteriorated', coalesce(c.deteriorated, 0)) ORDER BY u.name) AS instruments
      FROM (SELECT practice_id, {_SUBJECT}, instrument_id, key, name, kind,
                   count(*) AS responses, count(DISTINCT client_id) AS clients
              FROM responses
             GROUP BY GROUPING SETS (
                   (practice_id, clinician_id, instrument_id, key, name, kind),
                   (practice_id, instrument_id, key, name, kind))) u
      LEFT JOIN changes c USING (practice_id, subject, instrument_id)
     GROUP BY u.practice_id, u.subject
), subjects AS (
    -- The practice as a whole (0) and every active staff member; the clinician grouping sets'
    -- group of check-ins of nobody on the staff (-1) is no subject.
    SELECT practice_id, 0::bigint AS subject FROM win
    UNION ALL
    SELECT m.practice_id, m.id FROM accounts_membership m
      JOIN win w ON w.practice_id = m.practice_id
     WHERE m.id IN (SELECT id FROM staff)
), periods AS (
    -- Weeks and months with anything in them; the window for every subject.
    SELECT practice_id, subject, granularity, period_start FROM alliance_figures
     WHERE granularity <> 'window'
    UNION
    SELECT practice_id, subject, granularity, period_start FROM sent
     WHERE granularity <> 'window'
    UNION
    SELECT practice_id, subject, granularity, period_start FROM ruptures
     WHERE granularity <> 'window'
    UNION
    SELECT practice_id, subject, 'window', '-infinity' FROM subjects
)
SELECT p.practice_id, nullif(p.subject, 0), p.granularity,
       CASE WHEN p.granularity = 'window' THEN w.start_day ELSE p.period_start END,
       coalesce(s.invitations_sent, 0), coalesce(s.invitations_completed, 0),
       coalesce(a.checkins, 0), coalesce(a.clients, 0), a.index_mean, a.index_sd,
       coalesce(a.below_cutoff, 0),
       m.client_mean_mean, m.client_mean_sd,
       coalesce(r.ruptures_detected, 0), coalesce(r.ruptures_acknowledged, 0),
       coalesce(r.ruptures_repaired, 0),
       round((r.ack_seconds / 3600)::numeric, 2)::float,
       round((r.repair_seconds / 3600)::numeric, 2)::float,
       CASE WHEN p.granularity = 'window' THEN coalesce(c.channels, '{{}}') END,
       CASE WHEN p.granularity = 'window' THEN coalesce(u.instruments, '[]') END
  FROM periods p
  JOIN subjects USING (practice_id, subject)
  JOIN win w USING (practice_id)
  LEFT JOIN alliance_figures a USING (practice_id, subject, granularity, period_start)
  LEFT JOIN sent s USING (practice_id, subject, granularity, period_start)
  LEFT JOIN ruptures r USING (practice_id, subject, granularity, period_start)
  LEFT JOIN client_means m ON p.granularity = 'window' AND m.practice_id = p.practice_id
                          AND m.subject = p.subject
  LEFT JOIN channels c ON p.granularity = 'window' AND c.practice_id = p.practice_id
                      AND c.subject = p.subject
  LEFT JOIN instrument_use u ON p.granularity = 'window' AND u.practice_id = p.practice_id
                            AND u.subject = p.subject
"""

COLUMNS = (
    "practice_id", "clinician_id", "granularity", "period_start",
    "invitations_sent", "invitations_completed", "checkins", "clients", "index_mean", "index_sd",
    "below_cutoff", "client_mean_mean", "client_mean_sd", "ruptures_detected",
    "ruptures_acknowledged", "ruptures_repaired", "median_hours_to_acknowledge",
    "median_hours_to_repair", "channels", "instruments",
)


def report_rows(cursor, now) -> list[dict]:
    """Every snapshot row's figures, as {column: value}."""
    cursor.execute(SQL, {"now": now})
    return [dict(zip(COLUMNS, row)) for row in cursor.fetchall()]
