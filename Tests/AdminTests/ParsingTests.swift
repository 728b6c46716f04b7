import ArgumentParser
import RocketWSProtocol
import Testing

@testable import rocketws_admin

@Suite struct ParsingTests {
    @Test func parsesEmit() throws {
        let command = try RocketWSAdmin.parseAsRoot(["emit", "chat", #"{"a":1}"#, "--node", "http://n1:59999"])
        let emit = try #require(command as? RocketWSAdmin.Emit)
        #expect(emit.channel == "chat")
        #expect(emit.data == #"{"a":1}"#)
        #expect(emit.global.nodeURL == "http://n1:59999")
        #expect(emit.global.json == false)
    }

    @Test func parsesStatusWithGlobalOptions() throws {
        let command = try RocketWSAdmin.parseAsRoot(["status", "--json", "--api-key", "s3cret", "--timeout", "2.5"])
        let status = try #require(command as? RocketWSAdmin.Status)
        #expect(status.global.json)
        #expect(status.global.resolvedAPIKey == "s3cret")
        #expect(status.global.timeout == 2.5)
    }

    @Test func defaultsNodeURL() throws {
        let command = try RocketWSAdmin.parseAsRoot(["ping"])
        let ping = try #require(command as? RocketWSAdmin.Ping)
        #expect(ping.global.node == nil)
        if Environment.value("ROCKETWS_NODE") == nil {
            #expect(ping.global.nodeURL == "http://127.0.0.1:59999")
        }
    }

    @Test func parsesNotifyAllChannelsShell() throws {
        #expect(try RocketWSAdmin.parseAsRoot(["notify-all", "{}"]) is RocketWSAdmin.NotifyAll)
        #expect(try RocketWSAdmin.parseAsRoot(["channels"]) is RocketWSAdmin.Channels)
        #expect(try RocketWSAdmin.parseAsRoot(["shell", "--node", "http://a:1"]) is RocketWSAdmin.Shell)
    }

    @Test func parsesBenchDefaultsAndOptions() throws {
        let defaults = try #require(try RocketWSAdmin.parseAsRoot(["bench"]) as? RocketWSAdmin.BenchCommand)
        #expect(defaults.subscribers == 1000)
        #expect(defaults.publishers == 4)
        #expect(defaults.messages == 20000)
        #expect(defaults.rate == nil)
        #expect(!defaults.notify)
        #expect(defaults.ws == "ws://127.0.0.1:58000/")

        let bench = try #require(
            try RocketWSAdmin.parseAsRoot([
                "bench", "--subscribers", "50", "--messages", "500", "--publishers", "2", "--rate", "1000",
                "--notify", "--ws", "ws://a:1/,ws://b:2/", "--node", "http://a:3", "--json",
            ]) as? RocketWSAdmin.BenchCommand
        )
        let configuration = try bench.configuration()
        #expect(configuration.subscribers == 50)
        #expect(configuration.messages == 500)
        #expect(configuration.publishers == 2)
        #expect(configuration.rate == 1000)
        #expect(configuration.notify)
        #expect(configuration.webSockets.map(\.description) == ["ws://a:1/", "ws://b:2/"])
        #expect(configuration.messagesSource.description == "http://a:3/")
        #expect(bench.global.json)
    }

    @Test(arguments: [
        ["bench", "--subscribers", "0"],
        ["bench", "--rate", "-1"],
        ["bench", "--publishers", "0"],
        ["emit", "chat"],
        ["emit", "chat", "{not json"],
        ["notify-all", "[1,"],
        ["ping", "--timeout", "0"],
        ["frobnicate"],
    ])
    func rejectsBadArguments(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try RocketWSAdmin.parseAsRoot(arguments) }
    }

    @Test func badJSONIsAnExitOneError() {
        do {
            _ = try RocketWSAdmin.parseAsRoot(["emit", "chat", "{not json"])
            Issue.record("expected a parse failure")
        } catch {
            #expect(RocketWSAdmin.exitCode(for: error) == .failure)
            #expect(!RocketWSAdmin.message(for: error).contains("\n"))
        }
    }

    @Test func goldenRootHelp() {
        #expect(RocketWSAdmin.helpMessage(columns: 100) == Golden.rootHelp)
    }

    @Test func goldenEmitHelp() {
        #expect(RocketWSAdmin.helpMessage(for: RocketWSAdmin.Emit.self, columns: 100) == Golden.emitHelp)
    }
}

enum Golden {
    static let rootHelp = """
        OVERVIEW: Operate a RocketWS cluster through any node's MessagesSource port.

        Every command talks JSON-RPC to one node (--node, env ROCKETWS_NODE); the node answers for the
        whole cluster. Errors print one line on stderr and exit with status 1.

        USAGE: rocketws-admin <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          status                  Show cluster membership and per-channel subscriber counts.
          channels                List the channels that have subscribers anywhere in the cluster, with
                                  counts.
          emit                    Emit a message to every subscriber of a channel, cluster-wide.
          notify-all              Broadcast a message to every connected WebSocket client of every node.
          ping                    Check that the node answers.
          shell                   Interactive console emulating a backend (help, emit, notify_all,
                                  total_subscribers, ...).
          listen                  Subscribe to channels over WebSocket and print every message pushed to
                                  them.
          bench                   Load generator: subscribers over several nodes, emits to one, reports
                                  throughput and latency.

          See 'rocketws-admin help <subcommand>' for detailed help.
        """

    static let emitHelp = """
        OVERVIEW: Emit a message to every subscriber of a channel, cluster-wide.

        Prints the result, for example {"emitted":3,"nodes":2}.

        USAGE: rocketws-admin emit [--node <url>] [--api-key <key>] [--json] [--timeout <seconds>] <channel> <json>

        ARGUMENTS:
          <channel>               Channel name.
          <json>                  The message: a JSON object.

        OPTIONS:
          --node <url>            MessagesSource URL of any node (default: http://127.0.0.1:59999, env:
                                  ROCKETWS_NODE).
          --api-key <key>         API key sent as a Bearer token (env: ROCKETWS_API_KEY).
          --json                  Print the JSON-RPC result as JSON.
          --timeout <seconds>     Seconds to wait for each answer. (default: 10.0)
          -h, --help              Show help information.

        """
}
