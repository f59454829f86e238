"""Trust in what the servers offer: the tools each server definition
listed when it was first trusted (L{pins}), what a later listing changed
(L{diff}), and what the running gateway withholds until a person approves
it (L{policy}). docs/guide/trust.md."""
