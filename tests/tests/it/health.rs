//! Health monitoring end to end (real daemon, simulator on loopback).
