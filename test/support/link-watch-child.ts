// In a namespace of test/link-watch.test.ts: a LinkWatch that prints "change"
// each time it wakes, "ready" once it listens; runs until killed.
import { LinkWatch } from "../../host/links/link-watch.ts";

LinkWatch.open(() => process.stdout.write("change\n"));
process.stdout.write("ready\n");
