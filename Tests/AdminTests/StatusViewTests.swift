import RocketWSClient
import Testing

@testable import rocketws_admin

@Suite struct StatusViewTests {
    static let status: JSONValue = [
        "node": "n1",
        "members": [
            [
                "name": "n1", "address": "10.0.0.1:59998", "state": "alive", "incarnation": 3, "connections": 12,
                "subscriptions": 20,
            ],
            [
                "name": "n2", "address": "10.0.0.2:59998", "state": "suspect", "incarnation": 1, "connections": 0,
                "subscriptions": 0,
            ],
        ],
        "channels": [["channel": "chat", "subscribers": 20, "nodes": 1]],
    ]

    @Test func rendersMembersAndChannels() {
        let text = StatusView.status(Self.status, node: "http://10.0.0.1:59999")
        #expect(
            text == """
                node n1 at http://10.0.0.1:59999: 2 member(s), 1 alive

                MEMBERS
                NAME  ADDRESS         STATE    INCARNATION  CONNECTIONS  SUBSCRIPTIONS
                n1    10.0.0.1:59998  alive    3            12           20
                n2    10.0.0.2:59998  suspect  1            0            0

                CHANNELS
                CHANNEL  SUBSCRIBERS  NODES
                chat     20           1
                """
        )
    }

    @Test func rendersNoChannels() {
        #expect(StatusView.channels([]) == "(no channel has subscribers)")
        #expect(StatusView.channels(nil) == "(no channel has subscribers)")
    }

    @Test func rendersBenchReport() {
        var histogram = LatencyHistogram()
        histogram.record(micros: 1500)
        let report = Bench.Report(
            subscribers: 2,
            publishers: 1,
            messages: 1,
            accepted: 1,
            emitErrors: 0,
            expected: 2,
            delivered: 2,
            lost: 0,
            duplicated: 0,
            emitSeconds: 0.5,
            deliverySeconds: 1,
            latency: histogram,
            notify: false,
            reportedEmitted: 2
        )
        let text = RocketWSAdmin.BenchCommand.render(report, nodes: 1)
        #expect(text.contains("deliveries/s       2"))
        #expect(text.contains("latency max (ms)   1.50"))
        #expect(report.json["deliveries_per_second"] == 2)
        #expect(report.json["max_ms"] == 1.5)
        #expect(RocketWSAdmin.BenchCommand.decimal(0.04, places: 2) == "0.04")
        #expect(RocketWSAdmin.BenchCommand.decimal(12.5, places: 1) == "12.5")
        #expect(RocketWSAdmin.BenchCommand.decimal(1234.4, places: 0) == "1234")
    }
}
