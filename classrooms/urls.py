"""Every HTTP route of live sessions: the pages under the language prefix (`urlpatterns`, mounted at /<lang>/live/)
and the calendar feed without it (`feed_urlpatterns`, mounted at /calendar/)."""

from django.urls import path

from classrooms.views import alerts, attendance, calendar_feed, devices, live, timetable

app_name = "classrooms"

urlpatterns = [
    # The live session page (Q&A, attendance, video).
    path("sessions/<int:session_id>/", live.live_session, name="live-session"),
    # A moderator's Start and End (the page's buttons post here).
    path("sessions/<int:session_id>/state/", live.session_state, name="live-session-state"),
    # A trainee's answer to the recording consent (the page's dialog posts here).
    path("sessions/<int:session_id>/recording-consent/", live.recording_consent, name="live-recording-consent"),
    # Attendance: the room display's rotating check-in code, the roster, reports.
    path("sessions/<int:session_id>/rooms/<int:room_id>/display/", attendance.room_display, name="attendance-display"),
    path(
        "sessions/<int:session_id>/rooms/<int:room_id>/display/code/",
        attendance.room_display_code,
        name="attendance-display-code",
    ),
    path("sessions/<int:session_id>/rooms/<int:room_id>/roster/", attendance.roster, name="attendance-roster"),
    path("sessions/<int:session_id>/attendance/", attendance.report, name="attendance-report"),
    path("sessions/<int:session_id>/attendance/now/", attendance.presence, name="attendance-now"),
    path("sessions/<int:session_id>/attendance.csv", attendance.report_csv, name="attendance-csv"),
    path("sessions/<int:session_id>/attendance-stays.csv", attendance.report_stays_csv, name="attendance-stays-csv"),
    path("checkin/<int:session_id>/<int:room_id>/", attendance.checked_in, name="attendance-checked-in"),
    path("checkin/<int:session_id>/<int:room_id>/<str:code>/", attendance.checkin, name="attendance-checkin"),
    # The trainee's timetable and the secret link of its calendar feed.
    path("timetable/", timetable.timetable, name="timetable"),
    path("timetable/calendar-link/reset/", timetable.calendar_link_reset, name="calendar-link-reset"),
    # The operator console: rooms, devices, the room's stream, agent tokens.
    path("rooms/", devices.room_index, name="room-index"),
    path("rooms/<int:room_id>/devices/", devices.room_devices, name="room-devices"),
    path("rooms/<int:room_id>/devices/panel/", devices.room_devices_panel, name="room-devices-panel"),
    path("rooms/<int:room_id>/stream/", devices.room_stream, name="room-stream"),
    path("rooms/<int:room_id>/microphone/", devices.room_microphone, name="room-microphone"),
    path("rooms/<int:room_id>/tokens/", devices.room_token_issue, name="room-token-issue"),
    path("rooms/<int:room_id>/tokens/<int:token_id>/revoke/", devices.room_token_revoke, name="room-token-revoke"),
    # Operators' alerts, link-quality charts, the audit log.
    path("alerts/active/", alerts.alerts_active, name="alerts-active"),
    path("rooms/<int:room_id>/links/", alerts.room_links, name="room-links"),
    path("rooms/<int:room_id>/links/panel/", alerts.room_links_panel, name="room-links-panel"),
    path("sessions/<int:session_id>/links/", alerts.session_links, name="session-links"),
    path("audit/", alerts.audit_log, name="audit-log"),
    path("audit.csv", alerts.audit_log_csv, name="audit-log-csv"),
    # The device registry and camera presets (VISCA over IP through the room agent).
    path("rooms/<int:room_id>/devices/new/", devices.room_device_new, name="room-device-new"),
    path("rooms/<int:room_id>/devices/<int:device_id>/edit/", devices.room_device_edit, name="room-device-edit"),
    path("rooms/<int:room_id>/devices/<int:device_id>/review/", devices.room_device_review, name="room-device-review"),
    path("rooms/<int:room_id>/cameras/<int:camera_id>/preset/", devices.room_camera_preset, name="room-camera-preset"),
    path("rooms/<int:room_id>/cameras/<int:camera_id>/", devices.room_camera_state, name="room-camera-state"),
]

# Calendar apps fetch the feed without a language prefix or a session cookie (the token is the key).
feed_urlpatterns = [path("<str:token>.ics", calendar_feed.calendar_feed, name="feed")]
