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


_ULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    return next((i for i, end in enumerate(ends) if value <= end), len(ends))


def _ulaw(sample: int) -> int:
    """G.711 mu-law of one 16-bit sample, bit-exact with the reference encoder."""
    value, mask = sample >> 2, 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 33
    seg = _segment(value, _ULAW_SEGMENT_ENDS)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0x0F)) ^ mask


def _alaw(sample: int) -> int:
    """G.711 A-law of one 16-bit sample, bit-exact with the reference encoder."""
    value, mask = sample >> 3, 0xD5
    if value < 0:
        value, mask = -value - 1, 0x55
    seg = _segment(value, _ALAW_SEGMENT_ENDS)
    if seg >= 8:
        return 0x7F ^ mask
    shift = 1 if seg < 2 else seg
    return ((seg << 4) | ((value >> shift) & 0x0F)) ^ mask


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
