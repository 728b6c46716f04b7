import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// RocketWS in a real browser: headless Chromium loads pages that use `/rocketws.js` or `EventSource` from a
/// 3-node cluster behind the deploy/compose nginx configuration, the node the browser is on is killed with
/// kill -9, and the page's callbacks must show every message once and in order, or the `unrecovered` event.
@Suite(.serialized) struct BrowserTests {
    /// A page on another origin (a local HTTP server) that imports the module from nginx, as an application would.
    static func clientPage(nginx: Int, channel: String) -> String {
        """
        <!doctype html><title>rocketws.js test</title><script type="module">
        import { RocketWS } from "http://127.0.0.1:\(nginx)/rocketws.js";
        window.seen = []; window.events = [];
        const client = new RocketWS(["ws://127.0.0.1:\(nginx)/"]);
        client.on("state", (state) => events.push({ state, at: Date.now() }));
        const sub = client.subscribe("\(channel)", (data, meta) => seen.push({ n: data.n, offset: meta.offset ?? null }));
        sub.on("subscribed", (result) => events.push({ subscribed: result, at: Date.now() }));
        sub.on("unrecovered", (result) => events.push({ unrecovered: result, at: Date.now() }));
        </script>
        """
    }

    /// A page that streams the channel with the browser's own `EventSource`.
    static func eventSourcePage(nginx: Int, channel: String) -> String {
        """
        <!doctype html><title>EventSource test</title><script>
        window.seen = []; window.events = [];
        const source = new EventSource("http://127.0.0.1:\(nginx)/sse?channel=\(channel)");
        source.onopen = () => events.push({ open: true, at: Date.now() });
        source.onerror = () => events.push({ error: true, at: Date.now() });
        source.onmessage = (event) => { const frame = JSON.parse(event.data); seen.push({ n: frame.n, offset: frame.__offset ?? null }); };
        source.addEventListener("unrecovered", (event) => events.push({ unrecovered: JSON.parse(event.data), at: Date.now() }));
        </script>
        """
    }

    /// What a page recorded: the `n` of each message its callback saw (probes left out), and its events.
    struct Record {
        var seen: [Int]
        var events: [JSONValue]
        func count(_ key: String) -> Int { events.filter { $0[key] != nil }.count }
    }

    static func record(_ page: HeadlessChromium.Page) async throws -> Record {
        let value = try await page.evaluate("({ seen: window.seen.map((m) => m.n).filter((n) => n !== 0), events: window.events })")
        return Record(seen: value["seen"]?.arrayValue?.compactMap(\.intValue) ?? [], events: value["events"]?.arrayValue ?? [])
    }

    /// The scenario both pages go through: probes until the page gets them, 20 messages, kill -9 of the node the browser is on while 20 more are
    /// emitted, 10 after it is subscribed again. Returns what the page saw, and the time from the kill to its
    /// subscription on another node (`subscribed` on the client page; the stream's next `open` for EventSource).
    static func killTheBrowsersNode(page html: (Int, String) -> String, nodeArguments: [String] = []) async throws -> (Record, killToBack: Int?) {
        let cluster = try await NginxCluster.start(prefix: "br", nodeArguments: nodeArguments)
        let browser = try await HeadlessChromium.start()
        defer { cluster.stop() }
        do {
            let channel = "browser-\(UInt32.random(in: 0...UInt32.max))"
            let page = try await browser.open(try await browser.serve(html(cluster.nginx.wsPort, channel), as: "\(channel).html"))
            let subscribed = await eventually { await cluster.nodesHolding(channel).count == 1 }
            let state = (try? await page.evaluate("({ href: location.href.slice(0, 40), events: window.events ?? null })")) ?? .null
            try #require(subscribed, "the page subscribed: \(state)")
            let holder = try #require(await cluster.nodesHolding(channel).first)
            let victim = try #require(cluster.nodes.first { $0.name == holder })
            let survivor = try #require(cluster.nodes.first { $0.name != holder })
            let backend = MessagesSourceClient(host: "127.0.0.1", port: survivor.msPort, apiKey: NginxCluster.apiKey, requestTimeout: .seconds(10))
            defer { Task { try? await backend.close() } }
            func emit(_ range: ClosedRange<Int>, pause: Duration = .zero) async throws {
                for n in range {
                    _ = try await backend.call(method: "emit", params: ["channel": .string(channel), "data": ["n": .int(n)]])
                    if pause > .zero { try await Task.sleep(for: pause) }
                }
            }
            // Messages count from the subscribe's answer, which the page may see after the cluster counts it:
            // probes (n = 0, left out of the record) until one arrives.
            let live = await eventually {
                _ = try? await emit(0...0)
                return (try? await page.evaluate("window.seen.some((m) => m.n === 0)")) == .bool(true)
            }
            try #require(live, "a probe message reached the page")
            try await emit(1...20)
            let first = try await page.waitFor("window.seen.length >= 20")
            let before = try await record(page)
            try #require(first, "the first 20 messages arrived: \(before.seen) \(before.events)")
            let killedAt = try await page.evaluate("Date.now()").intValue
            victim.kill9()
            try await emit(21...40, pause: .milliseconds(25))
            try #require(
                await eventually { await cluster.nodesHolding(channel).contains { $0 != holder } }, "the page subscribed on another node")
            try await emit(41...50)
            _ = try await page.waitFor("window.seen.some((m) => m.n === 50)")
            let record = try await record(page)
            let back = record.events.last { $0["subscribed"] != nil || $0["open"] != nil }?["at"]?.intValue
            await browser.stop()
            return (record, killedAt.flatMap { killed in back.map { $0 - killed } })
        } catch {
            await browser.stop()
            throw error
        }
    }

    /// Types into the demo page's name and message fields (keyboard input) and presses Send.
    static func type(name: String, text: String, into page: HeadlessChromium.Page) async throws {
        for (field, value) in [("name", name), ("text", text)] {
            _ = try await page.evaluate("document.getElementById('\(field)').focus()")
            _ = try await page.browser.send("Input.insertText", ["text": .string(value)], session: page.session)
        }
        _ = try await page.evaluate("document.querySelector('#say button').click()")
    }

    /// Every `n` at most once and increasing: no message twice, none out of order.
    static func onceInOrder(_ seen: [Int]) -> Bool {
        zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 }
    }

    @Test func clientPageWithoutHistoryGetsUnrecoveredAfterANodeKill() async throws {
        let (record, _) = try await Self.killTheBrowsersNode(page: Self.clientPage)
        #expect(Self.onceInOrder(record.seen), "\(record.seen)")
        #expect(Array(record.seen.prefix(20)) == Array(1...20))
        #expect(record.seen.last == 50)
        #expect(record.count("unrecovered") == 1, "\(record.events)")
        #expect(record.count("subscribed") == 2)
    }

    @Test func eventSourcePageWithoutHistoryGetsUnrecoveredAfterANodeKill() async throws {
        let (record, _) = try await Self.killTheBrowsersNode(page: Self.eventSourcePage)
        #expect(Self.onceInOrder(record.seen), "\(record.seen)")
        #expect(Array(record.seen.prefix(20)) == Array(1...20))
        #expect(record.seen.last == 50)
        #expect(record.count("unrecovered") == 1, "\(record.events)")
        #expect(record.count("open") == 2)
    }

    @Test func messageTypedInTheDemoPageArrivesAtASecondPage() async throws {
        let cluster = try await NginxCluster.start(prefix: "demo")
        defer { cluster.stop() }
        let browser = try await HeadlessChromium.start()
        do {
            let channel = "demo-\(UInt32.random(in: 0...UInt32.max))"
            let url = "http://127.0.0.1:\(cluster.nginx.wsPort)/demo?channel=\(channel)"
            let writer = try await browser.open(url)
            let reader = try await browser.open(url)
            #expect(try await writer.waitFor("document.getElementById('state').textContent === 'connected'"))
            try #require(await eventually { (await cluster.nodesHolding(channel)).count >= 1 })
            // Both pages subscribed (possibly on different nodes): the cluster counts two subscribers.
            try #require(
                await eventually {
                    let total = await cluster.asking(cluster.nodes[0]) { try await $0.call(method: "total_subscribers", params: ["channel": .string(channel)]) }
                    return total?["total"]?.intValue == 2
                })
            try await Self.type(name: "Ada", text: "hello from the demo", into: writer)
            #expect(try await reader.waitFor("document.getElementById('messages').textContent.includes('Adahello from the demo')"))
            #expect(try await writer.evaluate("document.getElementById('messages').children.length") == .int(1))
            try await Self.type(name: "Grace", text: "and hello back, from another tab", into: reader)
            #expect(try await writer.waitFor("document.getElementById('messages').textContent.includes('Graceand hello back')"))
            // scripts/demo-screenshot.sh: the README's picture of the demo page is this tab.
            if let path = ProcessInfo.processInfo.environment["ROCKETWS_DEMO_SCREENSHOT"] {
                _ = try await browser.send(
                    "Emulation.setDeviceMetricsOverride", ["width": 760, "height": 330, "deviceScaleFactor": 1, "mobile": false], session: writer.session)
                let shot = try await browser.send("Page.captureScreenshot", ["format": "png"], session: writer.session)
                let png = try #require(shot["data"]?.stringValue.flatMap { Data(base64Encoded: $0) })
                try png.write(to: URL(fileURLWithPath: path))
            }
            await browser.stop()
        } catch {
            await browser.stop()
            throw error
        }
    }
}
