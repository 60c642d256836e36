"""Every URL of the JSON APIs, with its handler and name: the directory as HSDS, Open311 for the
12348 hotline, the device API, coverage figures and appointments.

A new endpoint is a handler in its module and a line here; `tests/test_routes.py` fails when a
route is registered anywhere else.
"""

from __future__ import annotations

from tv_server.api import appointments, coverage, devices, directory, open311
from tv_server.routing import GET, PATCH, POST

OPEN311 = open311.BASE  # /open311/v2
FMT = "{fmt:[A-Za-z0-9]+}"  # "json"; any other format is refused

ROUTES = [
    GET("/api/v1/directory/hsds/services", directory.hsds_services, "api_hsds_services"),
    GET(OPEN311 + "/openapi.json", open311.openapi, "open311_openapi"),
    GET(OPEN311 + f"/services.{FMT}", open311.services, "open311_services"),
    GET(OPEN311 + "/services/{service_code}." + FMT, open311.service_definition, "open311_service"),
    GET(OPEN311 + f"/requests.{FMT}", open311.list_requests, "open311_requests"),
    POST(OPEN311 + f"/requests.{FMT}", open311.create_request, "open311_create"),
    GET(OPEN311 + "/requests/{service_request_id}." + FMT, open311.one_request, "open311_request"),
    GET("/api/v1/openapi.json", devices.openapi, "api_openapi"),
    POST("/api/v1/devices", devices.enrol, "api_device_enrol"),
    GET("/api/v1/devices/{serial}", devices.device_record, "api_device"),
    PATCH("/api/v1/devices/{serial}", devices.update, "api_device_update"),
    POST("/api/v1/devices/{serial}/register", devices.register, "api_device_register"),
    POST("/api/v1/devices/{serial}/heartbeat", devices.heartbeat, "api_device_heartbeat"),
    GET("/api/v1/devices/{serial}/entitlement", devices.entitlement, "api_device_entitlement"),
    GET("/api/v1/coverage", coverage.get_coverage, "api_coverage"),
    GET("/api/v1/appointments/openapi.json", appointments.openapi, "api_appointments_openapi"),
    GET("/api/v1/appointments", appointments.list_appointments, "api_appointments"),
    GET("/api/v1/appointments/{code}", appointments.get_appointment, "api_appointment"),
]
