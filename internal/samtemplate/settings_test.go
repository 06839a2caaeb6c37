package samtemplate

import (
	"fmt"
	"path/filepath"
	"testing"
)

// loadRepoTemplate reads the repository's template.yaml.
func loadRepoTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// checkMaxReceiveCount: the worker parks a record failing on its last receive
// itself, so that its DLQ copy keeps the reason; it can only do so on the
// receive the queue's redrive policy would act on.
func checkMaxReceiveCount(t *Template) error {
	policy, _ := Lookup(t.Resources["EventsQueue"].Properties, "RedrivePolicy", "maxReceiveCount")
	queueMax, err := t.Int(policy)
	if err != nil {
		return fmt.Errorf("EventsQueue.RedrivePolicy.maxReceiveCount: %v", err)
	}
	workerMax, err := t.Int(t.FunctionEnv(workerID)["MAX_RECEIVE_COUNT"])
	if err != nil {
		return fmt.Errorf("WorkerFunction MAX_RECEIVE_COUNT: %v", err)
	}
	if queueMax != workerMax {
		return fmt.Errorf("WorkerFunction MAX_RECEIVE_COUNT is %d, EventsQueue's maxReceiveCount %d", workerMax, queueMax)
	}
	return nil
}

func TestWorkerMaxReceiveCountIsTheQueues(t *testing.T) {
	tpl := loadRepoTemplate(t)
	if err := checkMaxReceiveCount(tpl); err != nil {
		t.Fatal(err)
	}
	tpl.Resources["EventsQueue"].Properties["RedrivePolicy"].(map[string]any)["maxReceiveCount"] = 6
	if err := checkMaxReceiveCount(tpl); err == nil {
		t.Fatal("a queue maxReceiveCount of 6 against the worker's 5 passed")
	}
	tpl = loadRepoTemplate(t)
	vars, _ := Lookup(tpl.Resources[workerID].Properties, "Environment", "Variables")
	delete(vars.(map[string]any), "MAX_RECEIVE_COUNT")
	if err := checkMaxReceiveCount(tpl); err == nil {
		t.Fatal("a worker without MAX_RECEIVE_COUNT passed")
	}
}
