"""The OpenAPI 3.0 description of the Open311 GeoReport v2 endpoints (served at
/open311/v2/openapi.json, and what the schemathesis fuzzing in the test suite runs from)."""

from __future__ import annotations

import copy

from callbacks.requests import SERVICES, TIME_WINDOWS

_ERROR = {"$ref": "#/components/responses/Error"}
_RATE_LIMITED = {"$ref": "#/components/responses/RateLimited"}
# A key in one of three places: the spec's api_key parameter, or (better: URLs are logged) a header.
_KEYED = [{"apiKeyQuery": []}, {"apiKeyHeader": []}, {"bearer": []}]
_SECURITY_SCHEMES = {
    "apiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": (
            "The GeoReport v2 api_key parameter (for a POST also accepted as a form field): a key"
            " from `legaltv apikey create` with scope open311:read or open311:write."
        ),
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same key in a header, kept out of URLs and access logs.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same key as `Authorization: Bearer KEY`.",
    },
}
_JURISDICTION = {
    "name": "jurisdiction_id",
    "in": "query",
    "required": False,
    "description": "Accepted and ignored (one jurisdiction: Ordos).",
    "schema": {"type": "string"},
}
_NULLABLE_STRING = {"type": "string", "nullable": True}

_REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string", "description": "Our reference (digits)."},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": {**_NULLABLE_STRING, "description": "The last note for the household."},
        "service_name": {"type": "string"},
        "service_code": {"type": "string"},
        "description": {
            **_NULLABLE_STRING,
            "description": "What the matter is about (a topic), if the household chose one.",
        },
        "agency_responsible": {**_NULLABLE_STRING, "description": "The office's name."},
        "service_notice": _NULLABLE_STRING,
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "expected_datetime": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "When the first call is due (the deadline).",
        },
        "address": _NULLABLE_STRING,
        "address_id": {**_NULLABLE_STRING, "description": "The region code."},
        "zipcode": _NULLABLE_STRING,
        "lat": {"type": "number", "nullable": True},
        "long": {"type": "number", "nullable": True},
        "media_url": _NULLABLE_STRING,
        "legaltv_status": {
            "type": "string",
            "enum": [
                "submitted",
                "assigned",
                "in_progress",
                "completed",
                "unreachable",
                "cancelled",
            ],
        },
        "legaltv_phone_masked": {"type": "string"},
        "legaltv_origin": {"type": "string"},
    },
}

_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "LegalTV Open311 GeoReport v2",
        "version": "2.0.0",
        "description": (
            "Callback requests for the 12348 public legal service hotline platform. JSON only;"
            ' errors are `[{"code", "description"}]` with the matching HTTP status: 400 for'
            " missing or invalid parameters or another format than .json, 403 for a missing or"
            " bad api_key, 404 for an unknown service or request, 429 (with Retry-After) when a"
            " key makes more requests per minute than the server allows. The key goes in the"
            " api_key parameter, the X-API-Key header or as Authorization: Bearer."
        ),
    },
    "paths": {
        "/open311/v2/services.json": {
            "get": {
                "operationId": "listServices",
                "summary": "The callback services",
                "parameters": [_JURISDICTION],
                "responses": {
                    "200": {
                        "description": "Service list",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Service"},
                                }
                            }
                        },
                    },
                    "400": _ERROR,
                },
            }
        },
        "/open311/v2/services/{service_code}.json": {
            "get": {
                "operationId": "serviceDefinition",
                "summary": "A service's attributes (time_window, service_point)",
                "parameters": [
                    {
                        "name": "service_code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    _JURISDICTION,
                ],
                "responses": {
                    "200": {
                        "description": "Service definition",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ServiceDefinition"}
                            }
                        },
                    },
                    "400": _ERROR,
                    "404": _ERROR,
                },
            }
        },
        "/open311/v2/requests.json": {
            "get": {
                "operationId": "listRequests",
                "summary": "Callback requests (newest first; the last 90 days by default)",
                "security": _KEYED,
                "parameters": [
                    _JURISDICTION,
                    {
                        "name": "service_request_id",
                        "in": "query",
                        "description": "Comma-separated references (at most 100).",
                        "schema": {"type": "string"},
                    },
                    {"name": "service_code", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "start_date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "end_date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "description": "open, closed, or both comma-separated.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {"$ref": "#/components/responses/Requests"},
                    "400": _ERROR,
                    "403": _ERROR,
                    "429": _RATE_LIMITED,
                },
            },
            "post": {
                "operationId": "createRequest",
                "summary": "Ask for a callback (idempotent on Idempotency-Key or token)",
                "security": _KEYED,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": [
                                    "service_code",
                                    "phone",
                                    "address_id",
                                    "attribute[time_window]",
                                ],
                                "properties": {
                                    "api_key": {
                                        "type": "string",
                                        "description": "A key with scope open311:write"
                                        " (or send it in the X-API-Key header).",
                                    },
                                    "jurisdiction_id": {"type": "string"},
                                    "service_code": {"type": "string", "enum": list(SERVICES)},
                                    "phone": {
                                        "type": "string",
                                        "pattern": "^(1[3-9][0-9]{9}|0[1-9][0-9]{9,10})$",
                                        "description": "Mainland mobile or landline to call.",
                                    },
                                    "address_id": {
                                        "type": "string",
                                        "pattern": "^[0-9]{6}([0-9]{3}([0-9]{3})?)?$",
                                        "description": "The caller's region code (village,"
                                        " township or banner); it decides the routing.",
                                    },
                                    "attribute[time_window]": {
                                        "type": "string",
                                        "enum": list(TIME_WINDOWS),
                                    },
                                    "attribute[service_point]": {"type": "string"},
                                    "token": {
                                        "type": "string",
                                        "description": "Client idempotency token.",
                                    },
                                    "description": {
                                        "type": "string",
                                        "description": "Accepted, not stored.",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"$ref": "#/components/responses/Created"},
                    "201": {"$ref": "#/components/responses/Created"},
                    "400": _ERROR,
                    "403": _ERROR,
                    "429": _RATE_LIMITED,
                },
            },
        },
        "/open311/v2/requests/{service_request_id}.json": {
            "get": {
                "operationId": "getRequest",
                "summary": "One callback request (a list of one, as the spec says)",
                "security": _KEYED,
                "parameters": [
                    {
                        "name": "service_request_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    _JURISDICTION,
                ],
                "responses": {
                    "200": {"$ref": "#/components/responses/Requests"},
                    "400": _ERROR,
                    "403": _ERROR,
                    "404": _ERROR,
                    "429": _RATE_LIMITED,
                },
            }
        },
    },
    "components": {
        "securitySchemes": _SECURITY_SCHEMES,
        "schemas": {
            "Error": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["code", "description"],
                    "properties": {
                        "code": {"type": "integer"},
                        "description": {"type": "string"},
                    },
                },
            },
            "Service": {
                "type": "object",
                "required": ["service_code", "service_name", "metadata", "type"],
                "properties": {
                    "service_code": {"type": "string"},
                    "service_name": {"type": "string"},
                    "description": {"type": "string"},
                    "metadata": {"type": "boolean"},
                    "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
                    "keywords": {"type": "string"},
                    "group": {"type": "string"},
                },
            },
            "ServiceDefinition": {
                "type": "object",
                "required": ["service_code", "attributes"],
                "properties": {
                    "service_code": {"type": "string"},
                    "attributes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["code", "datatype", "required", "variable"],
                            "properties": {
                                "variable": {"type": "boolean"},
                                "code": {"type": "string"},
                                "datatype": {"type": "string"},
                                "required": {"type": "boolean"},
                                "datatype_description": {"type": "string"},
                                "order": {"type": "integer"},
                                "description": {"type": "string"},
                                "values": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "key": {"type": "string"},
                                            "name": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
            "ServiceRequest": _REQUEST,
        },
        "responses": {
            "Error": {
                "description": "Open311 error list",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "RateLimited": {
                "description": "Too many requests for this key: wait Retry-After seconds",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                },
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "Requests": {
                "description": "Service requests",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ServiceRequest"},
                        }
                    }
                },
            },
            "Created": {
                "description": "The request's reference (200 when the token was seen before)",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["service_request_id"],
                                "properties": {
                                    "service_request_id": {"type": "string"},
                                    "service_notice": _NULLABLE_STRING,
                                    "account_id": _NULLABLE_STRING,
                                },
                            },
                        }
                    }
                },
            },
        },
    },
}


def document() -> dict:
    """A fresh copy of the OpenAPI document."""
    return copy.deepcopy(_DOCUMENT)
