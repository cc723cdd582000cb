//! Consolidated portfolio end to end (real daemon, simulator on loopback).
