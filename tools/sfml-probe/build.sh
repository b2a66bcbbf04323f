#!/bin/sh
# Builds ./probe against the system SFML (Debian: apt-get install libsfml-dev).
set -e
cd "$(dirname "$0")"
g++ -std=c++17 -O2 -Wall -Wextra -o probe probe.cpp -lsfml-network -lsfml-system
echo "built $(pwd)/probe"
