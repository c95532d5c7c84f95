#!/usr/bin/env python3
"""Writes voice-commands.csv: a small labelled data set made for this
project's worked example (no outside source; the project's licence).

Spoken-style requests to a home assistant in four classes (lights, music,
timer, weather), from templates with a fixed seed, so the file is the same
on every run. Some texts hold commas and double quotes, which the CSV
quotes as RFC 4180 says. Run: python3 examples/make_voice_commands.py
"""
import csv
import random

rng = random.Random(2265)

polite = ["", "please ", "hey, ", "could you ", "can you ", "would you ", "ok so ", "um, "]
tail = ["", " please", " now", " for me", " thanks", ", thank you", " right away", " if you can"]
rooms = ["kitchen", "bedroom", "living room", "hallway", "bathroom", "office", "garage", "porch"]
artists = ["the beatles", "miles davis", "adele", "queen", "bach", "daft punk", "nina simone", "abba"]
genres = ["jazz", "rock", "classical music", "something relaxing", "the news podcast", "lo-fi beats"]
cities = ["paris", "london", "boston", "tokyo", "berlin", "lagos", "lima", "oslo"]
days = ["today", "tomorrow", "tonight", "this weekend", "on monday", "this afternoon"]
numbers = ["one", "two", "three", "five", "ten", "fifteen", "twenty", "thirty", "forty five"]
units = ["minutes", "seconds", "hours"]

templates = {
    "lights": [
        "{p}turn on the {room} lights{t}",
        "{p}switch off the lights in the {room}{t}",
        "{p}dim the {room} lamp to {n} percent{t}",
        "it's too dark in the {room}, lights on{t}",
        "{p}make the {room} brighter{t}",
        "{p}turn the lights down{t}",
        "lights off in the {room}{t}",
        '{p}set the {room} lights to "reading" mode{t}',
        "{p}turn up the brightness in the {room}{t}",
        "is the {room} light still on?",
    ],
    "music": [
        "{p}play {artist}{t}",
        "{p}put on some {genre}{t}",
        "{p}turn the music up{t}",
        "{p}skip this song{t}",
        "{p}play the next track{t}",
        "{p}pause the music{t}",
        "i want to hear {artist} in the {room}{t}",
        '{p}play the album "{artist} live"{t}',
        "{p}turn it down, the song is too loud{t}",
        "what song is this?",
    ],
    "timer": [
        "{p}set a timer for {n} {unit}{t}",
        "{p}start a {n} {unit} timer{t}",
        "{p}how much time is left on the timer?",
        "{p}cancel the timer{t}",
        "remind me in {n} {unit}{t}",
        "{p}stop the alarm{t}",
        "{p}wake me up in {n} {unit}{t}",
        "{p}set an alarm for {n} o'clock{t}",
        'timer "pasta", {n} {unit}{t}',
        "{p}add {n} {unit} to the timer{t}",
    ],
    "weather": [
        "{p}what's the weather {day}?",
        "{p}will it rain in {city} {day}?",
        "{p}how hot is it in {city}?",
        "do i need an umbrella {day}?",
        "{p}tell me the forecast for {city}{t}",
        "{p}is it going to snow {day}?",
        "how cold will it be {day} in {city}?",
        "{p}what's the temperature outside?",
        'weather in "{city}", {day}{t}',
        "{p}is it windy in {city} right now?",
    ],
}


def fill(template):
    return template.format(
        p=rng.choice(polite),
        t=rng.choice(tail),
        room=rng.choice(rooms),
        artist=rng.choice(artists),
        genre=rng.choice(genres),
        city=rng.choice(cities),
        day=rng.choice(days),
        n=rng.choice(numbers),
        unit=rng.choice(units),
    )


rows = []
for label, ts in templates.items():
    seen = set()
    while len(seen) < 150:
        text = fill(rng.choice(ts))
        if text not in seen:
            seen.add(text)
            rows.append((text, label))
rng.shuffle(rows)

with open("examples/voice-commands.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["text", "label"])
    w.writerows(rows)
print(f"wrote examples/voice-commands.csv: {len(rows)} rows, {len(templates)} classes")
