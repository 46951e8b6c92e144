"""Helpers the original exposes: JsonSerializer turns enums into their values
so that a request can go to a boto3 client."""

from enum import Enum


class JsonSerializer:
    @staticmethod
    def _convert_enum_to_str(value):
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, list):
            return [JsonSerializer._convert_enum_to_str(v) for v in value]
        if isinstance(value, dict):
            return {k: JsonSerializer._convert_enum_to_str(v) for k, v in value.items()}
        return value

    @staticmethod
    def serialize(value):
        out = JsonSerializer._convert_enum_to_str(value)
        return out if isinstance(out, dict) else {}
