import NIOCore
import NIOPosix

extension Bench {
    /// One load of a sweep: `subscribers` on the channel, `messages` emitted at `rate` msg/s (nil: the burst).
    public struct Step: Sendable, Equatable {
        /// "idle", "100/s", ..., "burst".
        public var name: String
        public var rate: Double?
        public var subscribers: Int
        public var messages: Int

        public init(name: String, rate: Double?, subscribers: Int, messages: Int) {
            self.name = name
            self.rate = rate
            self.subscribers = subscribers
            self.messages = messages
        }

        /// One subscriber at 10 msg/s for `seconds`: the latency a lone user sees on a quiet node.
        public static func idle(seconds: Double) -> Step {
            Step(name: "idle", rate: 10, subscribers: 1, messages: max(1, Int(10 * seconds)))
        }

        /// The sweep of the README's plot: idle, then `rates` (msg/s) for `seconds` each to `subscribers`, then
        /// the burst of `burstMessages` as fast as they are accepted.
        public static func sweep(rates: [Double], subscribers: Int, seconds: Double, burstMessages: Int) -> [Step] {
            [.idle(seconds: seconds)]
                + rates.map { rate in
                    Step(name: "\(Int(rate))/s", rate: rate, subscribers: subscribers, messages: max(1, Int(rate * seconds)))
                }
                + [Step(name: "burst", rate: nil, subscribers: subscribers, messages: burstMessages)]
        }
    }

    /// Runs `steps` one after the other against the same nodes (each on its own channel, with its own
    /// subscribers); returns each step with its report.
    public static func sweep(
        _ base: Configuration,
        steps: [Step],
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> [(step: Step, report: Report)] {
        var results: [(step: Step, report: Report)] = []
        for (index, step) in steps.enumerated() {
            var configuration = base
            configuration.channel = "\(base.channel)-sweep-\(index)"
            configuration.rate = step.rate
            configuration.subscribers = step.subscribers
            configuration.messages = step.messages
            progress("step \(step.name): \(step.subscribers) subscriber(s), \(step.messages) messages")
            results.append((step, try await run(configuration, on: group, progress: progress)))
            // Let the nodes go quiet between two loads (their windows start again from the base).
            try await Task.sleep(for: .seconds(1))
        }
        return results
    }

    /// A sweep's results as one JSON object (`rocketws-admin bench --mode sweep --json`, read by
    /// `scripts/plot-latency.py`): `steps` holds each step's report plus its name and offered rate (null: burst).
    public static func sweepJSON(_ results: [(step: Step, report: Report)], label: String) -> JSONValue {
        let steps: [JSONValue] = results.map { result in
            guard case .object(var fields) = result.report.json else { return result.report.json }
            fields["step"] = .string(result.step.name)
            fields["offered_rate"] = result.step.rate.map { .double($0) } ?? .null
            return .object(fields)
        }
        return ["label": .string(label), "steps": .array(steps)]
    }
}
