"""Mock interviews: plan (a design case along your framework note, or a rapid-fire round), grade
(key-point coverage against the passages of your notes, per step), sessions (saved with their
time; missed points become review cards)."""
