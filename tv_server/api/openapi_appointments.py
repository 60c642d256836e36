"""The OpenAPI 3.0 document of the read-only appointments API (handlers in `appointments.py`),
served at /api/v1/appointments/openapi.json; a test checks they agree."""

from __future__ import annotations

from functools import cache

_API_KEY = [{"apiKey": []}, {"apiKeyHeader": []}]


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ERRORS = {
    "400": _error("A bad filter, or api_key in the query string (api_key_in_query)."),
    "401": _error("No API key, or not a valid one."),
    "403": _error("The key lacks the appointments:read scope."),
    "429": _error("Too many requests for this key; see Retry-After."),
}


@cache
def document() -> dict:
    appointment = {
        "type": "object",
        "required": ["code", "service", "point", "day", "start", "end", "status"],
        "properties": {
            "code": {"type": "string", "pattern": "^[ACDEFHJKMNPRTUVWXY34679]{6}$"},
            "service": {
                "type": "string",
                "enum": ["notarisation", "legal_aid", "mediation", "consultation"],
            },
            "point": {"type": "string", "description": "The service point's directory code."},
            "region": {"type": "string", "nullable": True, "description": "The box's village."},
            "day": {"type": "string", "format": "date"},
            "start": {"type": "string", "example": "09:00"},
            "end": {"type": "string", "example": "09:30"},
            "status": {
                "type": "string",
                "enum": ["booked", "rescheduled", "cancelled", "attended", "no_show"],
            },
            "completed": {"type": "boolean", "description": "Attended (the service was given)."},
            "moved_from": {
                "type": "string",
                "nullable": True,
                "description": "The day and time before staff rescheduled it.",
            },
            "phone_masked": {"type": "string", "example": "138****8000"},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "LegalTV appointments API",
            "version": "1.0.0",
            "description": (
                "Appointments booked at service points from the TV, read-only for the 12348"
                " hotline (not Open311 requests). Phone numbers are masked. See"
                " docs/appointments.md."
            ),
        },
        "paths": {
            "/api/v1/appointments": {
                "get": {
                    "operationId": "listAppointments",
                    "summary": "Bookings of a point and/or a day (at most 200).",
                    "security": _API_KEY,
                    "parameters": [
                        {"name": "point", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "day",
                            "in": "query",
                            "schema": {"type": "string", "format": "date"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The bookings, by day and time.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "appointments": {
                                                "type": "array",
                                                "items": {
                                                    "$ref": "#/components/schemas/Appointment"
                                                },
                                            },
                                            "truncated": {"type": "boolean"},
                                        },
                                    }
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/api/v1/appointments/{code}": {
                "get": {
                    "operationId": "getAppointment",
                    "summary": "One booking by the code the household reads out.",
                    "security": _API_KEY,
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The booking.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Appointment"}
                                }
                            },
                        },
                        "404": _error("No booking with this code."),
                        **_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An operator API key `ltv_…` with the scope appointments:read (`legaltv"
                        " apikey create NAME --scope appointments:read`)."
                    ),
                },
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Appointment": appointment,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }
