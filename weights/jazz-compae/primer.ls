(title Blues in F)
(composer model zoo authors)
(meter 4 4)
(key -1)
(tempo 140.0)

(section (style swing))

F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |

(part
    (type melody)
    (title )
    (composer )
    (key -1)
    (stave treble)
)
c+4 a8 f8 eb+4 c+4 d+4 bb8 f8 ab4 f4
c+4 a8 f8 eb+4 c+4 bb4 g4 a4 c+4
d+8 f+8 d+8 bb8 ab4 f4 b8 d+8 f+8 ab+8 f+2
c+4 a8 f8 eb+4 c+4 d+4 c+8 a8 f#4 d4
g4 bb8 d+8 f+4 d+4 e+4 c+8 bb8 g4 e4
f4 a4 c+4 a4 g4 bb4 e4 g4
