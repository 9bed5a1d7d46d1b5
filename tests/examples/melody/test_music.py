"""The genome encoding against hand-worked genomes, and the three renderings."""

from __future__ import annotations

import ast
import csv
import io
import wave

import mido
import numpy as np
import pytest

from swergio_nb.examples.melody import SWERGIO_RATINGS
from swergio_nb.examples.melody.music import (
    MusicSettings,
    genome_to_melody,
    genome_to_slots,
    melody_to_genome,
    piano_roll_png,
    random_genomes,
    render_wav,
    scale_midi_notes,
    slots_to_genome,
    to_midi,
)

DATA = SWERGIO_RATINGS

# Hand-worked: each group is one slot's 4 bits, least significant first (bit j weighs 2**j).
HAND = (
    [0, 0, 0, 0]  # 0 -> degree 0: C (pyo MIDI 48)
    + [1, 0, 0, 0] + [1, 0, 0, 0]  # 1, 1 -> D (50), tied: 2 beats
    + [0, 0, 0, 1]  # 8 -> pause
    + [0, 0, 0, 0] + [0, 0, 0, 0]  # 0, 0 -> swergio stored the pause as 0: these extend the rest to 3 beats
    + [0, 1, 0, 0]  # 2 -> E (52)
    + [1, 0, 0, 1] + [1, 0, 0, 1]  # 9, 9 -> two separate one-beat rests (pauses never tie with each other)
    + [1, 1, 1, 0]  # 7 -> C one octave up (60)
    + [0, 0, 1, 0] * 22  # 4 x 22 -> G (55), tied: 22 beats
)  # fmt: skip


def test_hand_worked_genome_decodes_as_swergio_did() -> None:
    assert len(HAND) == 128
    assert genome_to_slots(HAND).tolist()[:10] == [0, 1, 1, 8, 0, 0, 2, 9, 9, 7]
    melody = genome_to_melody(HAND)
    got = [(e.pitch, e.start, e.beats, e.velocity) for e in melody.events]
    assert got == [
        (48, 0.0, 1.0, 127),
        (50, 1.0, 2.0, 127),
        (None, 3.0, 3.0, 0),
        (52, 6.0, 1.0, 127),
        (None, 7.0, 1.0, 0),
        (None, 8.0, 1.0, 0),
        (60, 9.0, 1.0, 127),
        (55, 10.0, 22.0, 127),
    ]
    assert melody.beats == 32 and melody.seconds == pytest.approx(32 * 60 / 128)


def test_key_scale_root_and_no_pauses() -> None:
    settings = MusicSettings(key="D", scale="minorH", root=5, bpm=90, pauses=False)
    assert scale_midi_notes(settings)[:8] == [62, 64, 65, 67, 69, 70, 73, 74]
    melody = genome_to_melody(HAND, settings)
    # without pauses 8 -> 0 and 9 -> 1: slots 0,1,1,0,0,0,2,1,1,7,...
    assert [(e.degree, e.beats) for e in melody.events][:6] == [(0, 1.0), (1, 2.0), (0, 3.0), (2, 1.0), (1, 2.0),
                                                                 (7, 1.0)]  # fmt: skip
    with pytest.raises(ValueError, match="unknown key"):
        MusicSettings(key="H")
    with pytest.raises(ValueError, match="128 bits"):
        genome_to_melody(HAND[:-1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        genome_to_melody([2] + HAND[1:])


def test_slots_and_canonical_genome_round_trip() -> None:
    rng = np.random.default_rng(3)
    slots = rng.integers(0, 16, 32)
    assert genome_to_slots(slots_to_genome(slots)).tolist() == slots.tolist()
    rows = [ast.literal_eval(r[0]) for r in csv.reader(DATA.open())]
    for genome in [*random_genomes(rng, 50), *rows]:
        melody = genome_to_melody(genome)
        assert genome_to_melody(melody_to_genome(melody)) == melody


def test_wav_midi_and_piano_roll() -> None:
    melody = genome_to_melody(HAND)
    data = render_wav(melody, sample_rate=22_050, release=0.05)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22_050)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(frames) == pytest.approx((melody.seconds + 0.05) * 22_050, abs=2)
    spb = 60 / 128
    rest = frames[int(3.2 * spb * 22_050) : int(5.9 * spb * 22_050)]  # inside the 3-beat rest (after the release)
    note = frames[int(0.2 * spb * 22_050) : int(0.8 * spb * 22_050)]
    assert np.abs(rest).max() == 0 and np.abs(note).max() > 1000

    midi = mido.MidiFile(file=io.BytesIO(_midi_bytes(melody)))
    ons = [(m.note, m.time) for m in midi.tracks[0] if m.type == "note_on"]
    assert [n for n, _ in ons] == [48, 50, 52, 60, 55]
    assert ons[2][1] == 3 * 480  # E starts after the 3-beat rest
    assert midi.length == pytest.approx(melody.seconds)

    png = piano_roll_png(melody, title="hand-worked")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def _midi_bytes(melody) -> bytes:
    buffer = io.BytesIO()
    to_midi(melody).save(file=buffer)
    return buffer.getvalue()
