import Foundation
import RocketWSTestKit

/// Debian's RabbitMQ broker for one test, through `scripts/amqp-broker.sh`: free loopback ports (AMQP,
/// Erlang distribution, its own epmd), its own data and logs in a temporary directory, stopped (with its epmd)
/// when the test is done. Messages are published with Python's pika (`scripts/amqp_publish.py`, in the
/// project's venv from `scripts/amqp-venv.sh`), an AMQP client independent of the node's.
final class RabbitMQBroker: @unchecked Sendable {  // fields are written before `start` returns
    static let script = NginxProcess.repositoryRoot.appendingPathComponent("scripts/amqp-broker.sh").path

    /// Whether Debian's rabbitmq-server is installed (`make setup` installs it).
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/lib/rabbitmq/bin/rabbitmq-server")
    }

    let directory: String
    let port: Int
    private let distPort: Int
    private let epmdPort: Int
    private var python = ""

    /// `amqp://guest:guest@127.0.0.1:PORT/`.
    var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

    static func start() async throws -> RabbitMQBroker {
        let broker = RabbitMQBroker()
        broker.python = try await run(NginxProcess.repositoryRoot.appendingPathComponent("scripts/amqp-venv.sh").path, []).trimmingCharacters(in: .whitespacesAndNewlines)
        try await broker.start()
        return broker
    }

    private init() {
        directory = NSTemporaryDirectory() + "rocketws-rabbitmq-\(UUID().uuidString.prefix(8))"
        port = freePort()
        distPort = freePort()
        epmdPort = freePort()
    }

    /// Starts the broker (again, keeping its data when it ran before); returns once it accepts AMQP.
    func start() async throws {
        _ = try await Self.run(Self.script, ["start", directory, "\(port)", "\(distPort)", "\(epmdPort)"])
    }

    /// Stops the broker gracefully (connections get connection.close 320) and its epmd.
    func stop() async {
        _ = try? await Self.run(Self.script, ["stop", directory])
    }

    /// The broker's Erlang VM stops running (SIGSTOP): a broker that is there but silent.
    func freeze(_ frozen: Bool) throws {
        let text = try String(contentsOfFile: directory + "/beam.pid", encoding: .utf8)
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw NodeProcessError(message: "no broker pid") }
        kill(pid, frozen ? SIGSTOP : SIGCONT)
    }

    /// Publishes `count` emit notifications to `channel` with data `{"seq": i}`, i from `start`.
    func publishEmits(queue: String, channel: String, count: Int, start: Int = 0, batch: Int = 1) async throws {
        _ = try await Self.run(python, [publisher, "--port", "\(port)", "--queue", queue, "emit", "--channel", channel, "--count", "\(count)", "--start", "\(start)", "--batch", "\(batch)"])
    }

    /// Publishes one message with this body.
    func publishRaw(queue: String, body: String) async throws {
        _ = try await Self.run(python, [publisher, "--port", "\(port)", "--queue", queue, "raw", body])
    }

    /// Messages ready in the queue (not handed to a consumer).
    func ready(queue: String) async throws -> Int {
        Int(try await Self.run(python, [publisher, "--port", "\(port)", "--queue", queue, "ready"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The end of the broker's log (for a failing test).
    var logTail: String {
        ((try? String(contentsOfFile: directory + "/log/console.log", encoding: .utf8)) ?? "").suffix(3000).description
    }

    private var publisher: String { NginxProcess.repositoryRoot.appendingPathComponent("scripts/amqp_publish.py").path }

    /// Runs a program to its end without blocking a thread of the test's pool; its stdout, or an error with its
    /// stderr.
    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await CommandRun.run(executable, arguments, timeout: .seconds(300)).succeeded()
    }

    deinit {
        _ = try? CommandRun.runBlocking(Self.script, ["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }
}
