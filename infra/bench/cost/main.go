// Command cost prints hookline's monthly AWS bill, item by item, at a few
// event rates (`make bench-cost`). It reads the settings that drive the bill
// from template.yaml (memory, batch size, batching window, retention, the
// alarms and dashboards it creates, the handlers' ledger writes) and uses
// us-east-1 list prices. Measured inputs (log bytes per event, from
// BenchmarkLogBytesPerEvent) and assumptions are flags, printed with the
// table so every figure can be traced.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/samtemplate"
)

// us-east-1 list prices (USD), as published by AWS for each service.
const (
	priceHTTPAPIPerMillion     = 1.00         // API Gateway HTTP API, first 300 M requests a month
	priceLambdaPerMillion      = 0.20         // Lambda requests
	priceLambdaARMPerGBSecond  = 0.0000133334 // Lambda duration, arm64, first 7.5 B GB-s
	priceSQSPerMillion         = 0.40         // SQS standard requests (64 KB chunks), after 1 M free
	priceDynamoWritePerMillion = 0.625        // DynamoDB on-demand write request units
	priceDynamoReadPerMillion  = 0.125        // DynamoDB on-demand read request units
	priceDynamoStorageGBMonth  = 0.25         // DynamoDB Standard storage
	priceEventBridgePerMillion = 1.00         // EventBridge partner (SaaS) events ingested, per 64 KB chunk; rule delivery to a same-account target is free
	priceLogsIngestGB          = 0.50         // CloudWatch Logs ingestion (Lambda logs, first 10 TB)
	priceLogsStorageGBMonth    = 0.03         // CloudWatch Logs storage (compressed)
	priceSecretMonth           = 0.40         // Secrets Manager, per secret
	priceSecretPer10k          = 0.05         // Secrets Manager API calls
	priceAlarmMonth            = 0.10         // CloudWatch standard-resolution alarm metric
	priceCustomMetricMonth     = 0.30         // CloudWatch custom metric, first 10 k
	priceDashboardMonth        = 3.00         // CloudWatch dashboard (3 free per account)
	daysPerMonth               = 30.4
)

func main() {
	tpl := flag.String("template", "template.yaml", "the SAM template")
	perDelivery := flag.Float64("events-per-delivery", 1, "events Okta sends per delivery (1 is the worst case for requests)")
	receiverMs := flag.Float64("receiver-ms", 50, "billed receiver duration per delivery (auth from cache, one SendMessageBatch, one BatchWriteItem of delivery marks)")
	workerBaseMs := flag.Float64("worker-ms", 30, "billed worker duration per batch, plus worker-record-ms per record")
	workerRecordMs := flag.Float64("worker-record-ms", 10, "billed worker duration per record (two ledger writes, handlers)")
	logBytes := flag.Float64("log-bytes-per-event", 2573, "stdout bytes per event (JSON logs + EMF), from BenchmarkLogBytesPerEvent at one event per delivery")
	platformBytes := flag.Float64("platform-bytes-per-invocation", 900, "Lambda's JSON platform lines (start, runtimeDone, report) per invocation")
	handlers := flag.Int("handlers", 1, "your handlers per event, on the ledger (two writes per event each); the built-in event-log runs too and takes no ledger write")
	containers := flag.Float64("containers", 4, "warm receiver containers, each reading the secret every SECRET_CACHE_TTL (5 min)")
	pollers := flag.Float64("pollers", 5, "SQS pollers Lambda runs for the worker when idle, each long-polling every 20 s")
	streamerMs := flag.Float64("streamer-ms", 20, "billed streamer duration per streamed event (one BatchGetItem of its mark, one SendMessageBatch, one BatchWriteItem)")
	receiverLogBytes := flag.Float64("receiver-log-bytes", 1054, "receiver stdout bytes per delivery of one event: its okta hook request line and two EMF lines (measured on kumo, internal/intake tests)")
	streamerLogBytes := flag.Float64("streamer-log-bytes", 560, "streamer stdout bytes per streamed event: its stream event queued line and one EMF line (measured on kumo, internal/intake tests)")
	subscribedShare := flag.Float64("stream-subscribed-share", 1, "share of the org's System Log events that are of a subscribed type: Okta streams every type and EventBridge bills each one ingested")
	flag.Parse()

	t, err := samtemplate.Load(*tpl)
	if err != nil {
		log.Fatal(err)
	}
	memGB := float64(intOf(t, t.Globals["Function"].(map[string]any)["MemorySize"])) / 1024
	batchSize := float64(paramInt(t, "WorkerBatchSize"))
	window := float64(paramInt(t, "WorkerBatchingWindowSeconds"))
	retentionDays := float64(paramInt(t, "LogRetentionDays"))
	ledgerDays := float64(paramInt(t, "LedgerRetentionDays"))
	// The optional reconciler (its function and alarms) is left out.
	alarms := 0
	for _, id := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		if t.Resources[id].Condition == "" {
			alarms++
		}
	}
	dashboards := len(t.ResourcesOfType("AWS::CloudWatch::Dashboard"))
	customMetrics := 0
	for _, d := range metrics.Defs {
		if d.Emitter == "reconciler" || d.Emitter == "streamer" || slices.Contains(d.Dimensions, metrics.DimOrg) {
			continue // the Org metrics: on stacks of several orgs only
		}
		n := 1 // one status class seen most of the time
		if slices.Contains(d.Dimensions, metrics.DimHandler) {
			n = *handlers + 1 // yours and the built-in event-log
		}
		if d.Total && len(d.Dimensions) > 0 {
			n++
		}
		customMetrics += n
	}

	fmt.Printf("Assumptions: %.0f event(s) per delivery; Lambda arm64 %.0f MB; worker batches fill for up to %.0f s (max %.0f); "+
		"receiver %.0f ms per delivery, worker %.0f ms + %.0f ms per record; %d handler(s) of yours per event, 2 ledger writes each, and the built-in event-log, none, plus the receiver's delivery mark; "+
		"%.0f B of logs per event + %.0f B of Lambda platform lines per invocation, kept %.0f days; ledger records of ~250 B kept %.0f days; "+
		"%.0f warm receivers reading the secret every 5 min; %.0f idle SQS pollers; %d custom metrics (%d handler(s) of yours and the event-log: each handler adds its HandlerDuration and HandlerErrors); no free tier; "+
		"without the optional reconciler.\n\n",
		*perDelivery, memGB*1024, window, batchSize, *receiverMs, *workerBaseMs, *workerRecordMs, *handlers,
		*logBytes, *platformBytes, retentionDays, ledgerDays, *containers, *pollers, customMetrics, *handlers)

	rates := []float64{10_000, 100_000, 400_000}
	type row struct {
		item string
		f    func(perDay float64) float64
	}
	perMonth := func(perDay float64) float64 { return perDay * daysPerMonth }
	deliveries := func(perDay float64) float64 { return perMonth(perDay) / *perDelivery }
	batches := func(perDay float64) float64 {
		perSecond := perDay / 86400
		fill := math.Max(1, math.Min(batchSize, perSecond*window))
		return perMonth(perDay) / fill
	}
	rows := []row{
		{"API Gateway HTTP API (requests)", func(d float64) float64 { return deliveries(d) / 1e6 * priceHTTPAPIPerMillion }},
		{"Lambda receiver (requests + duration)", func(d float64) float64 {
			n := deliveries(d)
			return n/1e6*priceLambdaPerMillion + n**receiverMs/1000*memGB*priceLambdaARMPerGBSecond
		}},
		{"Lambda worker (requests + duration)", func(d float64) float64 {
			n := batches(d)
			seconds := (n**workerBaseMs + perMonth(d)**workerRecordMs) / 1000
			return n/1e6*priceLambdaPerMillion + seconds*memGB*priceLambdaARMPerGBSecond
		}},
		{"SQS (send, receive, delete, idle polls)", func(d float64) float64 {
			idle := *pollers * 3 * 60 * 24 * daysPerMonth
			return (deliveries(d) + 2*batches(d) + idle) / 1e6 * priceSQSPerMillion
		}},
		{"DynamoDB ledger (writes + storage)", func(d float64) float64 {
			// Two writes per handler run (claim, complete) and the
			// receiver's delivery mark, one record each kept ledgerDays.
			writes := perMonth(d) * float64(2**handlers+1)
			storedGB := d * ledgerDays * float64(*handlers+1) * 250 / 1e9
			return writes/1e6*priceDynamoWritePerMillion + storedGB*priceDynamoStorageGBMonth
		}},
		{"CloudWatch Logs (ingestion + storage)", func(d float64) float64 {
			bytes := perMonth(d)**logBytes + (deliveries(d)+batches(d))**platformBytes
			gb := bytes / 1e9
			// Stored compressed, about 1/6 of the raw size, for the retention.
			stored := gb / daysPerMonth * retentionDays / 6
			return gb*priceLogsIngestGB + stored*priceLogsStorageGBMonth
		}},
		{"Secrets Manager (1 secret + reads)", func(float64) float64 {
			reads := *containers * 12 * 24 * daysPerMonth
			return priceSecretMonth + reads/1e4*priceSecretPer10k
		}},
		{fmt.Sprintf("CloudWatch alarms (%d)", alarms), func(float64) float64 { return float64(alarms) * priceAlarmMonth }},
		{fmt.Sprintf("CloudWatch dashboard (%d)", dashboards), func(float64) float64 { return float64(dashboards) * priceDashboardMonth }},
		{fmt.Sprintf("CloudWatch custom metrics (EMF, %d)", customMetrics), func(float64) float64 { return float64(customMetrics) * priceCustomMetricMonth }},
	}
	fmt.Print("| item |")
	for _, r := range rates {
		fmt.Printf(" %s events/day |", human(r))
	}
	fmt.Print("\n|---|")
	for range rates {
		fmt.Print("---:|")
	}
	fmt.Println()
	totals := make([]float64, len(rates))
	for _, r := range rows {
		fmt.Printf("| %s |", r.item)
		for i, rate := range rates {
			v := r.f(rate)
			totals[i] += v
			fmt.Printf(" $%.2f |", v)
		}
		fmt.Println()
	}
	fmt.Print("| **total per month** |")
	for _, v := range totals {
		fmt.Printf(" **$%.2f** |", v)
	}
	fmt.Println()

	printChannels(channelInputs{memGB: memGB, perDelivery: *perDelivery, receiverMs: *receiverMs, streamerMs: *streamerMs,
		receiverLogBytes: *receiverLogBytes, streamerLogBytes: *streamerLogBytes, platformBytes: *platformBytes, share: *subscribedShare})
}

func human(n float64) string {
	if n >= 1000 {
		return strconv.FormatFloat(n/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

func intOf(t *samtemplate.Template, v any) int {
	n, err := t.Int(v)
	if err != nil {
		log.Fatal(err)
	}
	return n
}

func paramInt(t *samtemplate.Template, name string) int {
	v, ok := t.ParameterDefault(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "template has no parameter %s\n", name)
		os.Exit(1)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		log.Fatal(err)
	}
	return n
}

type channelInputs struct {
	memGB, perDelivery, receiverMs, streamerMs        float64
	receiverLogBytes, streamerLogBytes, platformBytes float64
	share                                             float64
}

// printChannels prints what one million subscribed events cost to reach the
// events queue through each channel (the worker's side is the same for
// all): the hook, the Log Streaming stream alone, and both on with the hook
// first (the streamer then finds the mark and queues nothing).
func printChannels(in channelInputs) {
	const n = 1e6
	deliveries := n / in.perDelivery
	lambda := func(invocations, ms float64) float64 {
		return invocations/1e6*priceLambdaPerMillion + invocations*ms/1000*in.memGB*priceLambdaARMPerGBSecond
	}
	logs := func(bytes float64) float64 { return bytes / 1e9 * priceLogsIngestGB }
	type item struct {
		name               string
		hook, stream, both float64
	}
	streamed := n / in.share // Okta streams every type; the rule drops the others after ingestion
	items := []item{
		{"API Gateway HTTP API (requests)", deliveries / 1e6 * priceHTTPAPIPerMillion, 0, deliveries / 1e6 * priceHTTPAPIPerMillion},
		{"Lambda receiver (requests + duration)", lambda(deliveries, in.receiverMs), 0, lambda(deliveries, in.receiverMs)},
		{fmt.Sprintf("EventBridge partner events ingested (%.0f%% of the streamed types subscribed)", in.share*100), 0,
			streamed / 1e6 * priceEventBridgePerMillion, streamed / 1e6 * priceEventBridgePerMillion},
		{"Lambda streamer (requests + duration; the rule's delivery is free)", 0, lambda(n, in.streamerMs), lambda(n, in.streamerMs)},
		{"SQS (SendMessageBatch)", deliveries / 1e6 * priceSQSPerMillion, n / 1e6 * priceSQSPerMillion, deliveries / 1e6 * priceSQSPerMillion},
		{"DynamoDB delivery mark (strongly consistent read)", 0, n / 1e6 * priceDynamoReadPerMillion, n / 1e6 * priceDynamoReadPerMillion},
		{"DynamoDB delivery mark (write)", n / 1e6 * priceDynamoWritePerMillion, n / 1e6 * priceDynamoWritePerMillion, n / 1e6 * priceDynamoWritePerMillion},
		{"CloudWatch Logs ingestion (lines + platform lines)", logs(deliveries * (in.receiverLogBytes + in.platformBytes)),
			logs(n * (in.streamerLogBytes + in.platformBytes)),
			logs(deliveries*(in.receiverLogBytes+in.platformBytes) + n*(in.streamerLogBytes+in.platformBytes))},
	}
	fmt.Printf("\nPer million subscribed events, to the events queue, by channel (%.0f event(s) per delivery; streamer %.0f ms; logs %.0f B a delivery, %.0f B a streamed event, + %.0f B platform lines an invocation; "+
		"the worker's side is the same for every channel):\n\n", in.perDelivery, in.streamerMs, in.receiverLogBytes, in.streamerLogBytes, in.platformBytes)
	fmt.Println("| item | hook | Log Streaming | both (hook first) |")
	fmt.Println("|---|---:|---:|---:|")
	var th, ts, tb float64
	for _, it := range items {
		fmt.Printf("| %s | $%.2f | $%.2f | $%.2f |\n", it.name, it.hook, it.stream, it.both)
		th, ts, tb = th+it.hook, ts+it.stream, tb+it.both
	}
	fmt.Printf("| **total per million events** | **$%.2f** | **$%.2f** | **$%.2f** |\n", th, ts, tb)
}
