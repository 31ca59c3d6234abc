"""Audio helpers: a real PCM16 24 kHz tone for assistant audio, and byte counting for input."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

from .protocol import PCM_RATE


def sine_pcm16(duration_ms: int, frequency_hz: float = 440.0, amplitude: float = 0.3) -> bytes:
    """Mono little-endian PCM16 at 24 kHz: audible, so a browser test can tell it from silence."""
    samples = PCM_RATE * duration_ms // 1000
    peak = int(32767 * amplitude)
    step = 2 * math.pi * frequency_hz / PCM_RATE
    return struct.pack(f"<{samples}h", *(int(peak * math.sin(step * i)) for i in range(samples)))


def sine_audio(audio_format: dict[str, Any] | None, duration_ms: int, frequency_hz: float) -> bytes:
    """A tone in the session's output format: PCM16 24 kHz, or G.711 mu-law/A-law at 8 kHz."""
    kind = (audio_format or {}).get("type", "audio/pcm")
    if kind == "audio/pcm":
        return sine_pcm16(duration_ms, frequency_hz)
    samples = 8000 * duration_ms // 1000
    step = 2 * math.pi * frequency_hz / 8000
    encode = _ulaw if kind == "audio/pcmu" else _alaw
    return bytes(encode(int(9000 * math.sin(step * i))) for i in range(samples))


def _ulaw(sample: int) -> int:
    """G.711 mu-law encoding of one 16-bit sample (audioop is gone from newer Pythons)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    """G.711 A-law encoding of one 16-bit sample."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def split_chunks(audio: bytes, count: int, *, sample_width: int = 2) -> list[bytes]:
    """Split into `count` nearly equal chunks, each a whole number of samples."""
    count = max(1, count)
    samples = len(audio) // sample_width
    bounds = [sample_width * (samples * i // count) for i in range(count + 1)]
    return [audio[bounds[i] : bounds[i + 1]] for i in range(count)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str) -> bytes:
    """Strict base64 decode; raises `binascii.Error` on malformed input like the API's 400."""
    return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)


def b64_size(text: str) -> int:
    """Decoded length of well-formed base64 text, without decoding it."""
    return len(text) * 3 // 4 - text.count("=", -2)
