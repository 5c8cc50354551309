// Package actors holds Mesh's supervised goroutines (suture services). Each
// actor owns its state; the others reach it through its methods. The values
// they pass between them are package domain's; the JSON they send and
// serve is package wire's.
package actors
