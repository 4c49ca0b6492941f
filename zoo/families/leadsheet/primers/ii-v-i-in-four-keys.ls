(title ii-V-I in four keys)
(composer model zoo authors)
(meter 4 4)
(key 0)
(tempo 160.0)

(section (style swing))

Dm7 | G7 | CM7 | CM7 | Cm7 | F7 | BbM7 | BbM7 |
Bbm7 | Eb7 | AbM7 | AbM7 | Abm7 | Db7 | GbM7 | GbM7 |

(part
    (type melody)
    (title )
    (composer )
    (key 0)
    (stave treble)
)
d8 f8 a8 c+8 e+4 d+4 b8 d+8 f+8 d+8 b4 g4 e+2 c+4 b4 g2 r2
c8 eb8 g8 bb8 d+4 c+4 a8 c+8 eb+8 c+8 a4 f4 d+2 bb4 a4 f2 r2
bb-8 db8 f8 ab8 c+4 bb4 g8 bb8 db+8 bb8 g4 eb4 c+2 ab4 g4 eb2 r2
ab-8 b-8 eb8 gb8 bb4 ab4 f8 ab8 b8 ab8 f4 db4 bb2 gb4 f4 db2 r2
