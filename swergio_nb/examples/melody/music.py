"""Genome <-> melody, exactly as swergio's MelodyCreator encoded it, and rendering to audio, piano roll and MIDI.

The encoding is that of swergio/Examples ``MelodyCreator/music_generator.py`` (after Kie Codes' generate-music):

* a genome is ``NUM_BARS * NUM_NOTES * BITS_PER_NOTE`` = 8 x 4 x 4 = 128 bits; slot ``i`` (one quarter note) is
  bits ``4i .. 4i+3`` read as a little-endian integer (bit ``j`` weighs ``2**j``), so a slot is 0..15;
* a slot value >= 8 is a pause (a rest of one beat); with ``pauses=False`` the value is taken modulo 8 instead;
* otherwise it is a scale degree 0..7 of pyo's ``EventScale(root=key, scale=scale, first=root)``, whose MIDI notes
  are ``12 * root + key offset + scale step`` (pyo's octave numbering: C4 is MIDI 48), extended over two octaves;
* a slot equal to the previous event's value extends that event by one beat (a tie). As in the original, a pause
  is stored as value 0, so **a degree-0 slot right after a pause extends the pause** (it stays silent), while two
  pauses in a row are two one-beat rests. This quirk is kept so ratings made on the original sound the same here.
* every slot is a quarter note (``4 / NUM_NOTES`` beats); sounding notes have MIDI velocity 127; the tempo is
  ``bpm`` beats per minute (128 in the original's user interface).

Rendering: :func:`render_wav` (a numpy additive synth with an ADSR envelope, mono int16 WAV bytes for
``ipywidgets.Audio``), :func:`piano_roll_png` (matplotlib) and :func:`to_midi` (mido).
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BITS_PER_NOTE",
    "NUM_BARS",
    "NUM_NOTES",
    "GENOME_SIZE",
    "SCALES",
    "KEYS",
    "Event",
    "Melody",
    "MusicSettings",
    "check_genome",
    "genome_to_slots",
    "slots_to_genome",
    "genome_to_melody",
    "melody_to_genome",
    "scale_midi_notes",
    "render_wav",
    "piano_roll_png",
    "to_midi",
    "random_genomes",
]

BITS_PER_NOTE = 4
NUM_BARS = 8
NUM_NOTES = 4
GENOME_SIZE = NUM_BARS * NUM_NOTES * BITS_PER_NOTE

#: pyo ``EventScale`` keys: semitones above C.
KEYS = {
    "C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6,
    "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11,
}  # fmt: skip
#: pyo ``EventScale`` scales: semitone steps within one octave.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minorH": (0, 2, 3, 5, 7, 8, 11),
    "minorM": (0, 2, 3, 5, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "wholeTone": (0, 2, 4, 6, 8, 10),
    "majorPenta": (0, 2, 4, 7, 9),
    "minorPenta": (0, 3, 5, 7, 10),
    "egyptian": (0, 2, 5, 7, 10),
    "majorBlues": (0, 2, 5, 7, 9),
    "minorBlues": (0, 3, 5, 8, 10),
    "minorHungarian": (0, 2, 3, 6, 7, 8, 11),
}

_PAUSE_FROM = 2 ** (BITS_PER_NOTE - 1)  # 8


@dataclass(frozen=True, slots=True)
class MusicSettings:
    """How a genome sounds (swergio's user interface: C major, root octave 4, 128 bpm, pauses on).

    Attributes:
        key: pyo key name (``KEYS``).
        scale: pyo scale name (``SCALES``).
        root: first octave in pyo's numbering (MIDI note of the key's root = 12 * root + key offset).
        bpm: tempo in beats (quarter notes) per minute, > 0.
        pauses: slot values >= 8 are pauses; False folds them onto degrees (value % 8).
    """

    key: str = "C"
    scale: str = "major"
    root: int = 4
    bpm: float = 128.0
    pauses: bool = True

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise ValueError(f"unknown key {self.key!r}; one of {sorted(KEYS)}")
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; one of {sorted(SCALES)}")
        if not 0 <= self.root <= 8:
            raise ValueError(f"root octave must be 0..8, got {self.root}")
        if not self.bpm > 0:
            raise ValueError(f"bpm must be positive, got {self.bpm}")


@dataclass(frozen=True, slots=True)
class Event:
    """One note or rest of a melody.

    Attributes:
        degree: scale degree 0..7, or None for a rest.
        pitch: MIDI note number, or None for a rest.
        start: onset in beats from the start of the melody.
        beats: duration in beats (a whole number of slots).
        velocity: MIDI velocity (127 for a note, 0 for a rest, as in swergio).
    """

    degree: int | None
    pitch: int | None
    start: float
    beats: float
    velocity: int

    @property
    def is_rest(self) -> bool:
        return self.pitch is None


@dataclass(frozen=True, slots=True)
class Melody:
    """A decoded genome: its events in order and the settings it was decoded with."""

    events: tuple[Event, ...]
    settings: MusicSettings

    @property
    def beats(self) -> float:
        """Total length in beats (32 for a 128-bit genome)."""
        return sum(e.beats for e in self.events)

    @property
    def seconds(self) -> float:
        """Total length in seconds at ``settings.bpm``."""
        return self.beats * 60.0 / self.settings.bpm

    @property
    def notes(self) -> tuple[Event, ...]:
        """The sounding events (rests left out)."""
        return tuple(e for e in self.events if not e.is_rest)


def check_genome(genome: Sequence[int] | np.ndarray, size: int = GENOME_SIZE) -> np.ndarray:
    """The genome as a uint8 array of shape (size,), checked.

    Raises:
        ValueError: wrong length or a value other than 0 and 1.
    """
    arr = np.asarray(genome)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise ValueError(f"a genome has {size} bits, got shape {arr.shape}")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)][0]
        raise ValueError(f"a genome holds only 0 and 1, got {bad!r}")
    return arr.astype(np.uint8)


def genome_to_slots(genome: Sequence[int] | np.ndarray) -> np.ndarray:
    """The 32 slot values (int64, 0..15) of a genome: 4-bit little-endian integers (bit j weighs 2**j)."""
    bits = check_genome(genome).reshape(-1, BITS_PER_NOTE).astype(np.int64)
    return bits @ (1 << np.arange(BITS_PER_NOTE, dtype=np.int64))


def slots_to_genome(slots: Sequence[int] | np.ndarray) -> np.ndarray:
    """The inverse of :func:`genome_to_slots`: uint8 array (4 * len(slots),) of bits.

    Raises:
        ValueError: a slot outside 0..15.
    """
    values = np.asarray(slots, dtype=np.int64)
    if values.ndim != 1 or np.any((values < 0) | (values >= 2**BITS_PER_NOTE)):
        raise ValueError(f"slots are integers 0..{2**BITS_PER_NOTE - 1} in a 1-d sequence")
    return ((values[:, None] >> np.arange(BITS_PER_NOTE)) & 1).astype(np.uint8).reshape(-1)


def scale_midi_notes(settings: MusicSettings, octaves: int = 2) -> list[int]:
    """pyo ``EventScale(root=key, scale=scale, first=root, octaves=octaves)``: ``len(scale) * octaves + 1`` notes."""
    steps = SCALES[settings.scale]
    base = KEYS[settings.key]
    n = len(steps)
    return [steps[i % n] + (settings.root + i // n) * 12 + base for i in range(n * octaves + 1)]


def genome_to_melody(genome: Sequence[int] | np.ndarray, settings: MusicSettings | None = None) -> Melody:
    """Decode a genome as swergio's ``genome_to_melody`` did (see the module docstring for the rules).

    Args:
        genome: 128 bits (any sequence of 0/1).
        settings: key, scale, root octave, bpm, pauses; swergio's defaults if None.

    Raises:
        ValueError: not a valid genome.
    """
    settings = settings or MusicSettings()
    scale = scale_midi_notes(settings)
    beat = 4 / NUM_NOTES
    values: list[int] = []  # swergio's melody["notes"]: 0 for a pause
    kinds: list[int | None] = []  # degree, or None for a pause
    lengths: list[float] = []
    for value in genome_to_slots(genome).tolist():
        if not settings.pauses:
            value %= _PAUSE_FROM
        if value >= _PAUSE_FROM:
            values.append(0)
            kinds.append(None)
            lengths.append(beat)
        elif values and values[-1] == value:
            lengths[-1] += beat
        else:
            values.append(value)
            kinds.append(value)
            lengths.append(beat)
    events = []
    start = 0.0
    for degree, length in zip(kinds, lengths, strict=True):
        pitch = None if degree is None else scale[degree % len(scale)]
        events.append(Event(degree, pitch, start, length, 0 if degree is None else 127))
        start += length
    return Melody(tuple(events), settings)


def melody_to_genome(melody: Melody) -> np.ndarray:
    """A genome that decodes to ``melody`` (uint8 (128,)); the canonical one: a rest of n beats is a pause slot
    (value 8) followed by n - 1 degree-0 slots (the original's tie onto a pause), a note of n beats is n equal slots.

    ``genome_to_melody(melody_to_genome(m), m.settings) == m`` for every melody :func:`genome_to_melody` returns.

    Raises:
        ValueError: an event whose length is not a whole number of slots, or the wrong total length.
    """
    beat = 4 / NUM_NOTES
    slots: list[int] = []
    for event in melody.events:
        n = event.beats / beat
        if n < 1 or abs(n - round(n)) > 1e-9:
            raise ValueError(f"event of {event.beats} beats is not a whole number of {beat}-beat slots")
        n = round(n)
        slots.extend([_PAUSE_FROM] + [0] * (n - 1) if event.is_rest else [int(event.degree)] * n)  # type: ignore[arg-type]
    if len(slots) != NUM_BARS * NUM_NOTES:
        raise ValueError(f"a melody has {NUM_BARS * NUM_NOTES} slots, got {len(slots)}")
    return slots_to_genome(slots)


def random_genomes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random genomes: uint8 array (n, 128) (each bit 0 or 1 with probability 1/2, as deap's init)."""
    return rng.integers(0, 2, size=(n, GENOME_SIZE), dtype=np.uint8)


# -- rendering -----------------------------------------------------------------------------------------------------


def _midi_to_hz(pitch: float) -> float:
    """Equal temperament, A4 = MIDI 69 = 440 Hz (pyo's ``midiToHz``)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _ads(t: np.ndarray, attack: float, decay: float, sustain: float) -> np.ndarray:
    """Attack-decay-sustain part of a linear ADSR envelope at times ``t`` (s) after the onset."""
    rise = t / attack if attack > 0 else np.ones_like(t)
    fall = 1 - (1 - sustain) * (t - attack) / decay if decay > 0 else np.full_like(t, sustain)
    return np.where(t < attack, rise, np.where(t < attack + decay, fall, sustain))


def render_wav(
    melody: Melody,
    *,
    sample_rate: int = 22_050,
    attack: float = 0.005,
    decay: float = 0.05,
    sustain: float = 0.5,
    release: float = 0.05,
    gain: float = 0.4,
) -> bytes:
    """The melody as a mono 16-bit PCM WAV file (bytes), for ``ipywidgets.Audio(value=..., format="wav")``.

    Each note is a sine plus its 2nd and 3rd harmonics (amplitudes 1, 1/2, 1/4, normalised) under a linear ADSR
    envelope: ``attack`` s up to 1, ``decay`` s down to ``sustain``, held until the note's end, then ``release``
    s down to 0 (the release rings past the note's end, as in pyo's ``Adsr``). The original used pyo's
    ``Events`` with attack 0.001 s, decay 0.05 s, sustain 0.5, release 0.005 s; a slightly longer attack and
    release here avoid clicks. Velocity scales the amplitude (127 = full).

    Args:
        melody: the decoded melody; its ``settings.bpm`` sets the tempo.
        sample_rate: samples per second (22,050 or 44,100 are usual).
        attack, decay, release: envelope times in seconds (>= 0).
        sustain: sustain level, 0..1.
        gain: peak amplitude of one note, 0..1 (notes never overlap, so there is no clipping).

    Returns:
        The bytes of a RIFF/WAVE file; ``melody.seconds + release`` seconds long.

    Raises:
        ValueError: a parameter out of range.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    if min(attack, decay, release) < 0 or not 0 <= sustain <= 1 or not 0 < gain <= 1:
        raise ValueError("attack, decay, release >= 0; 0 <= sustain <= 1; 0 < gain <= 1")
    spb = 60.0 / melody.settings.bpm
    total = int(np.ceil((melody.seconds + release) * sample_rate)) + 1
    out = np.zeros(total, dtype=np.float64)
    for note in melody.notes:
        dur = note.beats * spb
        n = int(round((dur + release) * sample_rate))
        t = np.arange(n) / sample_rate
        env = _ads(t, attack, decay, sustain)
        tail = t >= dur
        env[tail] = _ads(np.array([dur]), attack, decay, sustain)[0] * np.clip(
            1 - (t[tail] - dur) / max(release, 1e-12), 0, 1
        )
        f = _midi_to_hz(note.pitch)  # type: ignore[arg-type]
        wave_ = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t) + 0.25 * np.sin(6 * np.pi * f * t)
        start = int(round(note.start * spb * sample_rate))
        seg = gain * (note.velocity / 127) * env * wave_ / 1.75
        end = min(total, start + n)
        out[start:end] += seg[: end - start]
    pcm = np.clip(out * 32767, -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _note_name(pitch: int) -> str:
    """pyo's octave numbering: MIDI 48 is C4."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12}"


def piano_roll_png(
    melody: Melody, *, title: str = "", figsize: tuple[float, float] = (6.4, 2.4), dpi: int = 80
) -> bytes:
    """A piano-roll image of the melody (PNG bytes): one bar per note on a pitch x beat grid, bar lines every
    ``NUM_NOTES`` beats, rests as grey ticks on the bottom. Drawn on a matplotlib ``Figure`` (no pyplot state, so
    it is safe in a worker thread)."""
    from matplotlib.figure import Figure

    scale = scale_midi_notes(melody.settings)[:8]
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot()
    for note in melody.notes:
        ax.broken_barh([(note.start, note.beats * 0.95)], (note.pitch - 0.4, 0.8), color="#3b6fb6")  # type: ignore[operator]
    lo, hi = min(scale) - 1, max(scale) + 1
    for rest in (e for e in melody.events if e.is_rest):
        ax.broken_barh([(rest.start, rest.beats * 0.95)], (lo, 0.3), color="#bbbbbb")
    for bar in range(0, int(melody.beats) + 1, NUM_NOTES):
        ax.axvline(bar, color="#999999", lw=0.6)
    ax.set_xlim(0, melody.beats)
    ax.set_ylim(lo, hi)
    ax.set_yticks(scale, [_note_name(p) for p in scale], fontsize=7)
    ax.set_xticks(range(0, int(melody.beats) + 1, NUM_NOTES))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("beat", fontsize=8)
    ax.grid(axis="y", color="#eeeeee", lw=0.5)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def to_midi(melody: Melody, *, ticks_per_beat: int = 480, program: int = 0):  # -> mido.MidiFile
    """The melody as a type-0 ``mido.MidiFile`` (tempo from ``settings.bpm``, velocity 127, channel 0).

    Save with ``to_midi(m).save("melody.mid")``. Rests advance time; ``program`` is the General MIDI instrument
    (0 = acoustic grand piano).
    """
    import mido

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(melody.settings.bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    pending = 0
    for event in melody.events:
        ticks = int(round(event.beats * ticks_per_beat))
        if event.is_rest:
            pending += ticks
            continue
        track.append(mido.Message("note_on", note=event.pitch, velocity=event.velocity, time=pending))
        track.append(mido.Message("note_off", note=event.pitch, velocity=0, time=ticks))
        pending = 0
    track.append(mido.MetaMessage("end_of_track", time=pending))
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    return midi
