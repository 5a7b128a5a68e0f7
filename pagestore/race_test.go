//go:build race

package pagestore

const raceEnabled = true
