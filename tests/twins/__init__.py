"""Readable numpy twins of every compiled function in walkout._core.

Each module here mirrors one room (detect, track, geometry, sync, interact). The twins favour
clarity over speed; property tests (hypothesis) check that the compiled code agrees with them.
"""
