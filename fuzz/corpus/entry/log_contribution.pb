
 ъ*Fэ#B╞Ы÷█l┌f=Nд╡╘R<Z╧В$┤°╕Н#cy╦╔╟╒▄4"┌q
oэ"tools"lead*barn0Ю╬ду:a saw, twelve daysBhttps://example.org/sawJ 