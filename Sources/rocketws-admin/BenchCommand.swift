import ArgumentParser
import ClusterKit
import RocketWSClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension RocketWSAdmin {
    struct BenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Load generator: subscribers over several nodes, emits to one, reports throughput and latency.",
            discussion: """
                Connects --subscribers WebSocket clients to one channel, spread round-robin over the --ws \
                URLs, then emits --messages messages to --node over --publishers keep-alive connections. \
                Each message carries {"seq": i, "t": send_unix_ns}; subscribers record latency, losses and \
                duplicates. Waits for every delivery or --idle-timeout seconds without one.
                --mode idle: one subscriber at 10 msg/s for --seconds (the latency a lone user sees). \
                --mode sweep: idle, then each of --rates msg/s for --seconds to --subscribers, then the burst of \
                --messages; with --json one object whose "steps" scripts/plot-latency.py draws.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(
            name: .long,
            help: ArgumentHelp("Comma-separated WebSocket URLs subscribers connect to.", valueName: "urls")
        )
        var ws: String = "ws://127.0.0.1:58000/"

        @Option(name: .long, help: "WebSocket subscribers on the bench channel.")
        var subscribers: Int = 1000

        @Option(name: .long, help: "Keep-alive MessagesSource connections emitting in parallel.")
        var publishers: Int = 4

        @Option(name: .long, help: "Messages to emit.")
        var messages: Int = 20000

        @Option(
            name: .long,
            help: ArgumentHelp("Emits per second in total (default: as fast as accepted).", valueName: "msg/s")
        )
        var rate: Double?

        @Flag(name: .long, help: "Emit as JSON-RPC notifications (answered 204) instead of requests.")
        var notify = false

        @Option(name: .long, help: "Channel to subscribe and emit to.")
        var channel: String = "bench"

        @Option(
            name: .long,
            help: ArgumentHelp("Stop waiting after this many seconds without a delivery.", valueName: "seconds")
        )
        var idleTimeout: Double = 5

        @Option(name: .long, help: "Subscribers connecting at the same time.")
        var connectConcurrency: Int = 64

        @Option(name: .long, help: "run (one load, as set by the options above), idle or sweep.")
        var mode: Mode = .run

        @Option(name: .long, help: ArgumentHelp("Offered rates of --mode sweep, comma-separated.", valueName: "msg/s,..."))
        var rates: String = "100,1000,5000"

        @Option(name: .long, help: ArgumentHelp("How long each paced load of --mode idle and sweep lasts.", valueName: "seconds"))
        var seconds: Double = 5

        @Option(name: .long, help: "Label stored in --mode sweep's JSON (e.g. the commit measured).")
        var label: String = "rocketws"

        @Flag(name: .long, help: "Measure the HTTP/2 peer mesh alone: two in-process meshes on loopback, one link, acknowledgements on.")
        var mesh = false

        @Option(name: .long, help: "Frame payload bytes for --mesh.")
        var frameBytes: Int = 100

        @Option(name: .long, help: "Frames to send for --mesh.")
        var frames: Int = 5_000_000

        @Option(name: .customLong("peer-tls-cert"), help: "With --mesh: run the link over TLS 1.3 with this PEM certificate (it must name 127.0.0.1), and --peer-tls-key and --peer-tls-ca.")
        var peerTLSCert: String?

        @Option(name: .customLong("peer-tls-key"), help: "With --mesh and --peer-tls-cert: the certificate's PEM key.")
        var peerTLSKey: String?

        @Option(name: .customLong("peer-tls-ca"), help: "With --mesh and --peer-tls-cert: the PEM CA that signed it.")
        var peerTLSCA: String?

        func validate() throws {
            guard self.subscribers >= 1 else { throw ValidationError("--subscribers must be at least 1") }
            guard self.publishers >= 1 else { throw ValidationError("--publishers must be at least 1") }
            guard self.messages >= 1 else { throw ValidationError("--messages must be at least 1") }
            guard self.connectConcurrency >= 1 else {
                throw ValidationError("--connect-concurrency must be at least 1")
            }
            guard self.idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
            if let rate = self.rate, rate <= 0 { throw ValidationError("--rate must be positive") }
            guard !self.channel.isEmpty else { throw ValidationError("--channel must not be empty") }
            guard self.seconds > 0 else { throw ValidationError("--seconds must be positive") }
            guard let rates = self.sweepRates, !rates.isEmpty, rates.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--rates must be positive numbers separated by commas")
            }
        }

        /// What `bench --mode` runs.
        enum Mode: String, ExpressibleByArgument, CaseIterable {
            case run, idle, sweep
        }

        var sweepRates: [Double]? {
            let rates = self.rates.split(separator: ",").map { Double($0.filter { $0 != " " }) }
            return rates.contains(nil) ? nil : rates.compactMap { $0 }
        }

        var steps: [Bench.Step] {
            switch mode {
            case .run: []
            case .idle: [.idle(seconds: seconds)]
            case .sweep: Bench.Step.sweep(rates: sweepRates ?? [], subscribers: subscribers, seconds: seconds, burstMessages: messages)
            }
        }

        func configuration() throws -> Bench.Configuration {
            var configuration = Bench.Configuration()
            do {
                configuration.webSockets = try self.ws.split(separator: ",").map {
                    try Endpoint(parsing: String($0), defaultScheme: "ws")
                }
                configuration.messagesSource = try Endpoint(parsing: self.global.nodeURL, defaultScheme: "http")
            } catch {
                throw AdminError("\(error)")
            }
            guard !configuration.webSockets.isEmpty else { throw AdminError("--ws needs at least one URL") }
            configuration.apiKey = self.global.resolvedAPIKey
            configuration.channel = self.channel
            configuration.subscribers = self.subscribers
            configuration.publishers = self.publishers
            configuration.messages = self.messages
            configuration.rate = self.rate
            configuration.notify = self.notify
            configuration.idleTimeout = .milliseconds(Int(self.idleTimeout * 1000))
            configuration.connectConcurrency = self.connectConcurrency
            return configuration
        }

        func run() async throws {
            if mesh { return try await runMesh() }
            let configuration = try self.configuration()
            try FileLimit.raise(needed: self.subscribers + self.publishers + 64)
            let showProgress = Console.stderrIsTerminal
            if mode != .run { return try await runSteps(configuration, showProgress: showProgress) }
            let report = try await reportingErrors(node: self.global.nodeURL) {
                try await Bench.run(configuration) { line in
                    if showProgress { Console.error("bench: \(line)") }
                }
            }
            if self.global.json {
                print(report.json.serialized(pretty: true))
            } else {
                print(Self.render(report, nodes: configuration.webSockets.count))
            }
        }

        /// `--mode idle` and `--mode sweep`: the steps one after the other, a table (or one JSON object).
        func runSteps(_ configuration: Bench.Configuration, showProgress: Bool) async throws {
            let results = try await reportingErrors(node: self.global.nodeURL) {
                try await Bench.sweep(configuration, steps: self.steps) { line in
                    if showProgress { Console.error("bench: \(line)") }
                }
            }
            if self.global.json {
                print(Bench.sweepJSON(results, label: self.label).serialized(pretty: true))
                return
            }
            func ms(_ micros: Int) -> String { Self.decimal(Double(micros) / 1000, places: 2) }
            let rows = results.map { step, report in
                [
                    step.name, "\(step.subscribers)", Self.decimal(report.emitsPerSecond, places: 0),
                    Self.decimal(report.deliveriesPerSecond, places: 0), ms(report.latency.percentile(0.5)),
                    ms(report.latency.percentile(0.99)), "\(report.lost)", "\(report.duplicated)",
                ]
            }
            print(Table(headers: ["LOAD", "SUBSCRIBERS", "EMITS/S", "DELIVERIES/S", "P50 MS", "P99 MS", "LOST", "DUP"], rows: rows).render())
        }

        /// `--mesh`: frames/s and MB/s over one peer link through the public mesh API.
        func runMesh() async throws {
            var tls: PeerTLSFiles?
            if let cert = peerTLSCert {
                guard let key = peerTLSKey, let ca = peerTLSCA else { throw ValidationError("--peer-tls-cert needs --peer-tls-key and --peer-tls-ca") }
                tls = PeerTLSFiles(certificatePath: cert, keyPath: key, caPath: ca)
            }
            let result = try await MeshBenchmark.run(frames: frames, size: frameBytes, tls: tls)
            if global.json {
                print(#"{"frames":\#(result.frames),"frame_bytes":\#(result.frameBytes),"seconds":\#(result.seconds),"frames_per_second":\#(Int(result.framesPerSecond)),"megabytes_per_second":\#(Int(result.megabytesPerSecond)),"cpu_ns_per_frame":\#(Int(result.cpuNanosPerFrame))}"#)
            } else {
                print("mesh: \(result.frames) frames of \(result.frameBytes) bytes in \(Self.decimal(result.seconds, places: 2)) s: \(Int(result.framesPerSecond)) frames/s, \(Int(result.megabytesPerSecond)) MB/s, \(Int(result.cpuNanosPerFrame)) ns CPU per frame")
            }
        }

        static func render(_ report: Bench.Report, nodes: Int) -> String {
            func ms(_ micros: Int) -> String { Self.decimal(Double(micros) / 1000, places: 2) }
            let rows: [[String]] = [
                ["emits/s", Self.decimal(report.emitsPerSecond, places: 0)],
                ["deliveries/s", Self.decimal(report.deliveriesPerSecond, places: 0)],
                ["latency p50 (ms)", ms(report.latency.percentile(0.5))],
                ["latency p99 (ms)", ms(report.latency.percentile(0.99))],
                ["latency max (ms)", ms(report.latency.maxMicros)],
                ["delivered", "\(report.delivered) of \(report.expected)"],
                ["lost", "\(report.lost)"],
                ["duplicated", "\(report.duplicated)"],
                ["emit errors", "\(report.emitErrors)"],
                ["emit time (s)", Self.decimal(report.emitSeconds, places: 3)],
                ["delivery time (s)", Self.decimal(report.deliverySeconds, places: 3)],
            ]
            let mode = report.notify ? "notify" : "emit"
            return """
                bench (\(mode)): \(report.subscribers) subscribers on \(nodes) node(s), \(report.publishers) \
                publishers, \(report.messages) messages
                \(Table(headers: ["METRIC", "VALUE"], rows: rows).render())
                """
        }

        static func decimal(_ value: Double, places: Int) -> String {
            guard value.isFinite else { return "-" }
            var scale = 1.0
            for _ in 0..<places { scale *= 10 }
            let scaled = Int((value * scale).rounded())
            guard places > 0 else { return String(scaled) }
            let sign = scaled < 0 ? "-" : ""
            let magnitude = abs(scaled)
            let whole = magnitude / Int(scale)
            let fraction = String(magnitude % Int(scale))
            return "\(sign)\(whole).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
        }
    }
}

/// The per-process open-file limit, raised so a bench can hold thousands of sockets.
enum FileLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; fails if even that is below `needed`.
    static func raise(needed: Int) throws {
        var limit = rlimit()
        #if os(Linux)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur < rlim_t(needed) {
            throw AdminError(
                "open-file limit \(limit.rlim_cur) is too low for this bench (needs about \(needed));"
                    + " raise it with ulimit -n"
            )
        }
    }
}
