"""The OpenAPI 3.0 document of the device API (/api/v1/devices…) and of the coverage figures
(/api/v1/coverage, handler in `coverage.py`), served at /api/v1/openapi.json. Kept next to the
handlers in `devices.py`; a test checks they agree."""

from __future__ import annotations

from functools import cache


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_SERIAL = {
    "name": "serial",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.\\-]{2,63}$"},
}
_VERSION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.+\\-]{0,63}$"}
# An operator key in either header; never in the query string (refused: api_key_in_query).
_API_KEY = [{"apiKey": []}, {"apiKeyHeader": []}]


@cache
def document() -> dict:
    """The OpenAPI 3.0.3 description of the device endpoints."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "LegalTV device API",
            "version": "1.0.0",
            "description": (
                "Enrolment of set-top boxes by the operator's systems, heartbeats from boxes and"
                " the entitlement of a box to the legal section. See docs/device-api.md."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An operator API key `ltv_…` (`legaltv apikey create NAME --scope"
                        " SCOPE`); scopes devices:write (enrol, correct), devices:read (read) and"
                        " coverage:read (coverage figures). Or in the X-API-Key header; a key in"
                        " the query string (api_key) is refused with 400 api_key_in_query."
                    ),
                },
                "apiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "The same operator API key `ltv_…` in the X-API-Key header.",
                },
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "The per-device token `ltvd_…` issued at enrolment or by"
                        " `legaltv devices token SERIAL` (a new one replaces the old)."
                    ),
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "example": "device_unknown"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Enrolment": {
                    "type": "object",
                    "required": ["serial", "village_code"],
                    "additionalProperties": False,
                    "properties": {
                        "serial": {"type": "string", "example": "HS4K-000123"},
                        "mac": {"type": "string", "example": "AC:DB:48:00:01:23"},
                        "model": {"type": "string", "description": "a known box model"},
                        "firmware": _VERSION,
                        "village_code": {"type": "string", "example": "150602001001"},
                        "household_label": {"type": "string", "maxLength": 100},
                        "state": {
                            "type": "string",
                            "enum": ["planned", "installed", "activated"],
                            "default": "installed",
                        },
                    },
                },
                "Enrolled": {
                    "type": "object",
                    "properties": {
                        "serial": {"type": "string"},
                        "state": {"type": "string"},
                        "token": {"type": "string", "description": "shown once; keep it"},
                    },
                },
                "Heartbeat": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "firmware": _VERSION,
                        "portal_version": _VERSION,
                        "uptime": {"type": "integer", "minimum": 0, "maximum": 315360000},
                        "at": {
                            "description": (
                                "when the beat was taken: epoch seconds or ISO 8601 with a"
                                " time zone; at most 1 day old and 5 minutes ahead"
                            ),
                            "oneOf": [{"type": "number"}, {"type": "string"}],
                        },
                    },
                },
                "CoverageFigures": {
                    "type": "object",
                    "properties": {
                        **{
                            name: {"type": "integer"}
                            for name in (
                                "households",
                                "equipped",
                                "installed",
                                "active7",
                                "active30",
                                "covered",
                                "launches",
                                "views",
                                "callbacks",
                            )
                        },
                        "coverage": {
                            "type": "number",
                            "nullable": True,
                            "description": "covered ÷ households (box seen in the last 7 days)",
                        },
                        "short_villages": {
                            "type": "integer",
                            "description": "villages whose imported household total is below the"
                            " households the registry knows (counted with the latter instead)",
                        },
                        "short_households": {
                            "type": "integer",
                            "description": "by how many households those totals fall short",
                        },
                        "video_starts": {
                            "type": "integer",
                            "description": "boxes that started a program's video in the period"
                            " (one per box and program; `views` counts program pages shown)",
                        },
                        "completions": {
                            "type": "integer",
                            "description": "of those, boxes that watched at least 90 % of it",
                        },
                    },
                },
                "Coverage": {
                    "type": "object",
                    "properties": {
                        "region": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string", "example": "1506"},
                                "name": {"type": "string"},
                                "level": {"type": "string"},
                            },
                        },
                        "period": {
                            "type": "object",
                            "description": "epoch seconds, until exclusive",
                            "properties": {
                                "since": {"type": "number"},
                                "until": {"type": "number"},
                            },
                        },
                        "as_of": {
                            "type": "string",
                            "format": "date-time",
                            "description": "when the figures were computed (+08:00)",
                        },
                        "stale": {
                            "type": "boolean",
                            "description": "true right after a restart: the figures kept by the"
                            " last run, served while new ones are computed",
                        },
                        "totals": {"$ref": "#/components/schemas/CoverageFigures"},
                        "children": {
                            "type": "array",
                            "description": "each child region with its figures",
                            "items": {
                                "allOf": [
                                    {
                                        "type": "object",
                                        "properties": {
                                            "code": {"type": "string"},
                                            "name": {"type": "string"},
                                            "level": {"type": "string"},
                                        },
                                    },
                                    {"$ref": "#/components/schemas/CoverageFigures"},
                                ]
                            },
                        },
                    },
                },
                "DeviceUpdate": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": (
                        "Only the fields to change; null clears a field (screen_profile and"
                        " keymap_family: back to the model's). At most 4 KB."
                    ),
                    "properties": {
                        "model": {
                            "type": "string",
                            "nullable": True,
                            "description": "a known box model",
                        },
                        "mac": {"type": "string", "nullable": True, "example": "AC:DB:48:00:01:23"},
                        "firmware": {**_VERSION, "nullable": True},
                        "screen_profile": {
                            "type": "string",
                            "nullable": True,
                            "enum": ["720p", "1080p", "2160p", None],
                        },
                        "keymap_family": {
                            "type": "string",
                            "nullable": True,
                            "description": "browser, coship, enrich, hbbtv, huawei, inspur,"
                            " ipanel or satellite",
                        },
                        "installed_at": {"type": "string", "format": "date", "nullable": True},
                        "activated_at": {
                            "nullable": True,
                            "description": "epoch seconds or ISO 8601 with a time zone",
                            "oneOf": [{"type": "number"}, {"type": "string"}],
                        },
                        "state": {
                            "type": "string",
                            "description": (
                                "allowed changes: planned → installed, activated, retired;"
                                " installed → planned, activated, retired; activated →"
                                " installed, retired; active, inactive → retired; rejected →"
                                " pending"
                            ),
                        },
                        "attributes": {
                            "type": "object",
                            "description": "key -> text (at most 200 characters); null removes",
                            "maxProperties": 50,
                            "additionalProperties": {
                                "type": "string",
                                "nullable": True,
                                "maxLength": 200,
                            },
                        },
                    },
                },
                "Device": {
                    "type": "object",
                    "description": "a box's registry record",
                    "required": ["serial", "state", "effective_state", "attributes", "version"],
                    "properties": {
                        "serial": {"type": "string"},
                        "mac": {"type": "string", "nullable": True},
                        "model": {"type": "string", "nullable": True},
                        "firmware": {"type": "string"},
                        "portal_version": {"type": "string"},
                        "uptime": {"type": "integer", "nullable": True},
                        "village_code": {"type": "string", "nullable": True},
                        "household_id": {"type": "integer", "nullable": True},
                        "household_label": {"type": "string"},
                        "state": {"type": "string"},
                        "effective_state": {"type": "string"},
                        "installed_at": {"type": "string", "nullable": True},
                        **{
                            name: {"type": "number", "nullable": True}
                            for name in (
                                "activated_at",
                                "first_seen",
                                "last_seen",
                                "retired_at",
                                "created_at",
                            )
                        },
                        "replaced_by": {"type": "integer", "nullable": True},
                        "launches": {"type": "integer"},
                        "keymap_family": {"type": "string"},
                        "screen_profile": {"type": "string", "enum": ["720p", "1080p", "2160p"]},
                        "keymap_family_override": {"type": "string", "nullable": True},
                        "screen_profile_override": {"type": "string", "nullable": True},
                        "attributes": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "version": {
                            "type": "string",
                            "description": "changes with every change of the record; send it"
                            " back in If-Match to refuse a lost update",
                        },
                    },
                },
                "Entitlement": {
                    "type": "object",
                    "properties": {
                        "serial": {"type": "string"},
                        "state": {"type": "string"},
                        "entitled": {
                            "type": "boolean",
                            "description": "the legal section is on for this box",
                        },
                        "village_code": {"type": "string", "nullable": True},
                        "regions": {"type": "array", "items": {"type": "string"}},
                        "keymap_family": {"type": "string"},
                        "keymap": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "key code -> action (up, down, ok, back, …)",
                        },
                        "screen_profile": {"type": "string", "enum": ["720p", "1080p", "2160p"]},
                    },
                },
            },
        },
        "paths": {
            "/api/v1/devices": {
                "post": {
                    "summary": "Enrol a box (pre-authorised; a pending box is accepted)",
                    "operationId": "enrolDevice",
                    "security": _API_KEY,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Enrolment"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "enrolled; the device token is returned once",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Enrolled"}
                                }
                            },
                        },
                        "200": {"description": "already known: updated, new token issued"},
                        "400": _error("invalid body or field"),
                        "401": _error("missing or invalid API key"),
                        "403": _error("the API key lacks devices:write"),
                        "409": _error("the box is retired or rejected, or the MAC is taken"),
                        "413": _error("body too large"),
                    },
                }
            },
            "/api/v1/devices/{serial}": {
                "get": {
                    "summary": "A box's registry record",
                    "operationId": "getDevice",
                    "security": _API_KEY,
                    "parameters": [_SERIAL],
                    "responses": {
                        "200": {
                            "description": "every registry field and attribute",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Device"}
                                }
                            },
                        },
                        "401": _error("missing or invalid API key"),
                        "403": _error("the API key lacks devices:read"),
                        "404": _error("unknown serial"),
                    },
                },
                "patch": {
                    "summary": "Correct a box's registry fields and inventory attributes",
                    "operationId": "updateDevice",
                    "security": _API_KEY,
                    "parameters": [
                        _SERIAL,
                        {
                            "name": "If-Match",
                            "in": "header",
                            "description": "the record's version as read; refused with 412"
                            " when the box changed since",
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/DeviceUpdate"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "the record after the change (ETag: its version)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Device"}
                                }
                            },
                        },
                        "400": _error("invalid body, field or attribute"),
                        "401": _error("missing or invalid API key"),
                        "403": _error("the API key lacks devices:write"),
                        "404": _error("unknown serial"),
                        "409": _error(
                            "state change not allowed, box retired, or MAC of another box"
                        ),
                        "412": _error("If-Match names an old version"),
                        "413": _error("body too large"),
                    },
                },
            },
            "/api/v1/devices/{serial}/register": {
                "post": {
                    "summary": "A box announces itself: pending for staff, or accepted at once"
                    " when its village has the auto-accept rule; a known box changes nothing",
                    "operationId": "registerDevice",
                    "security": [],
                    "parameters": [_SERIAL],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"village_code": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "state: pending, installed, or the known state"},
                        "400": _error("malformed serial, body or village code"),
                        "429": {
                            **_error("too many registrations from this address, or new boxes"),
                            "headers": {
                                "Retry-After": {
                                    "description": "seconds to wait",
                                    "schema": {"type": "integer"},
                                }
                            },
                        },
                    },
                }
            },
            "/api/v1/devices/{serial}/heartbeat": {
                "post": {
                    "summary": "A box reports it is alive (written in batches)",
                    "operationId": "deviceHeartbeat",
                    "security": [{"deviceToken": []}],
                    "parameters": [_SERIAL],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Heartbeat"}
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "accepted; stored within a few seconds"},
                        "400": _error("malformed body, bad field or absurd timestamp"),
                        "401": _error("missing or wrong device token"),
                        "403": _error("the box is pending staff approval"),
                        "404": _error("unknown serial"),
                        "410": _error("the box is retired or rejected"),
                        "413": _error("body too large"),
                    },
                }
            },
            "/api/v1/devices/{serial}/entitlement": {
                "get": {
                    "summary": "Is the legal section on for this box; its key map and profile",
                    "operationId": "deviceEntitlement",
                    "security": [{"deviceToken": []}, *_API_KEY],
                    "parameters": [_SERIAL],
                    "responses": {
                        "200": {
                            "description": "the entitlement",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Entitlement"}
                                }
                            },
                        },
                        "401": _error("missing or invalid token / API key"),
                        "403": _error("pending box, or API key without devices:read"),
                        "404": _error("unknown serial"),
                        "410": _error("the box is retired or rejected"),
                    },
                }
            },
            "/api/v1/coverage": {
                "get": {
                    "summary": "Coverage figures of a region and of each of its children",
                    "operationId": "getCoverage",
                    "security": _API_KEY,
                    "parameters": [
                        {
                            "name": "region",
                            "in": "query",
                            "description": "region code; the city when absent",
                            "schema": {"type": "string", "example": "150602"},
                        },
                        *(
                            {
                                "name": name,
                                "in": "query",
                                "description": f"period {name} (default: the last 30 days)",
                                "schema": {"type": "string", "format": "date"},
                            }
                            for name in ("since", "until")
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "the figures (recomputed every minute)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Coverage"}
                                }
                            },
                        },
                        "400": _error(
                            "since or until is not a date YYYY-MM-DD, or api_key was sent in"
                            " the query string (api_key_in_query: use the X-API-Key header)"
                        ),
                        "401": _error("missing or invalid API key"),
                        "403": _error("the API key lacks coverage:read"),
                        "404": _error("unknown region code"),
                        "429": {
                            **_error(
                                "too many requests for this key (rate_limited), or its previous"
                                " custom-period computation still runs (computation_running)"
                            ),
                            "headers": {
                                "Retry-After": {
                                    "description": "seconds to wait",
                                    "schema": {"type": "integer", "minimum": 1},
                                }
                            },
                        },
                        "503": {
                            **_error(
                                "the figures are still being computed (a very first start, or"
                                " a staff change at a province's scale): figures_computing"
                            ),
                            "headers": {
                                "Retry-After": {
                                    "description": "seconds to wait",
                                    "schema": {"type": "integer", "minimum": 1},
                                }
                            },
                        },
                    },
                }
            },
        },
    }
