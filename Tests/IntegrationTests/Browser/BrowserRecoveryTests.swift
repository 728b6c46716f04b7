import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// The browser tests with history on (docs/contract.md, "History and recovery"): after kill -9 of the node the
/// browser is on, the page's callbacks see every message once, in order, and no `unrecovered` event.
///
/// They run once the node has `--history-size` (issue #17): before that the suite is reported as skipped.
@Suite(.serialized, .enabled(if: nodeHasHistory(), "rocketws-node has no --history-size yet (#17)"))
struct BrowserRecoveryTests {
    static let history = ["--history-size", "1000"]

    @Test func clientPageRecoversEveryMessageOnceInOrderAfterANodeKill() async throws {
        let (record, back) = try await BrowserTests.killTheBrowsersNode(page: BrowserTests.clientPage, nodeArguments: Self.history)
        #expect(record.seen == Array(1...50), "\(record.seen)")
        #expect(record.count("unrecovered") == 0, "\(record.events)")
        #expect(record.count("subscribed") == 2)
        print("browser: rocketws.js page back and recovered \(back.map(String.init) ?? "?") ms after the kill")
    }

    @Test func eventSourcePageRecoversEveryMessageOnceInOrderAfterANodeKill() async throws {
        let (record, back) = try await BrowserTests.killTheBrowsersNode(page: BrowserTests.eventSourcePage, nodeArguments: Self.history)
        #expect(record.seen == Array(1...50), "\(record.seen)")
        #expect(record.count("unrecovered") == 0, "\(record.events)")
        #expect(record.count("open") == 2)
        print("browser: EventSource page open again \(back.map(String.init) ?? "?") ms after the kill")
    }

    /// The reconnect-and-recover time the page sees (kill -9 to the recovered `subscribe` answer), over five kills:
    /// printed, not asserted (performance is measured, not tested). Opt-in: ROCKETWS_MEASURE_RECOVERY=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ROCKETWS_MEASURE_RECOVERY"] == "1"))
    func measureReconnectAndRecoverTime() async throws {
        var times: [Int] = []
        for _ in 0..<5 {
            let (record, back) = try await BrowserTests.killTheBrowsersNode(page: BrowserTests.clientPage, nodeArguments: Self.history)
            #expect(record.seen == Array(1...50))
            if let back { times.append(back) }
        }
        times.sort()
        print("browser: reconnect-and-recover after kill -9, ms: \(times), median \(times.isEmpty ? -1 : times[times.count / 2])")
    }
}

/// Whether the built node has the history flags.
private func nodeHasHistory() -> Bool {
    let help = try? CommandRun.runBlocking(BinaryRunner.executable("rocketws-node").path, ["--help"])
    return help?.output.contains("--history-size") == true
}
