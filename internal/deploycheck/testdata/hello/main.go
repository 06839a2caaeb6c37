// Command hello is a binary for deploycheck's own tests to inspect.
package main

import "fmt"

func main() { fmt.Println("hello") }
