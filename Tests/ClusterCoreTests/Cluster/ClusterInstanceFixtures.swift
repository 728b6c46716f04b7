@testable import ClusterCore

/// Fixed nodes for the cluster instance's unit tests: `a` (under test) and `b`, `c` (its peers).
enum Fixture {
    typealias Instance = Cluster.Instance<[UInt8]>
    typealias Directive = Cluster.Directive<[UInt8]>

    static let a = Membership.Member(name: "a", address: "10.0.0.1:59998", incarnation: 100)
    static let b = Membership.Member(name: "b", address: "10.0.0.2:59998", incarnation: 200)
    static let c = Membership.Member(name: "c", address: "10.0.0.3:59998", incarnation: 300)
    static let data: [UInt8] = Array(#"{"m":1}"#.utf8)

    static var settings: Cluster.Settings {
        var settings = Cluster.Settings()
        settings.forwardTimeout = .seconds(2)
        settings.visibilityTimeout = .seconds(1)
        settings.statsTimeout = .seconds(1)
        settings.outboxRetryInterval = .milliseconds(10)
        return settings
    }

    static func instance(_ member: Membership.Member) -> Instance {
        Instance(myself: member, settings: settings, seed: member.incarnation)
    }

    /// `a` started with links up to `peers` (alive members).
    static func started(_ member: Membership.Member = a, peers: [Membership.Member], now: Duration = .zero) -> Instance {
        var instance = instance(member)
        _ = instance.start(seeds: [], now: now)
        for peer in peers {
            _ = instance.linkUp(name: peer.name, address: peer.address, incarnation: peer.incarnation, now: now)
        }
        return instance
    }
}

extension Array where Element == Cluster.Directive<[UInt8]> {
    /// The frames and peers of every `sendReporting`.
    var reportingSends: [(frame: Cluster.Frame<[UInt8]>, peers: [String])] {
        compactMap { if case .sendReporting(let frame, let peers) = $0 { (frame, peers) } else { nil } }
    }
    /// The interest messages sent, with their peers.
    var interestSends: [(message: InterestMessage, peers: [String])] {
        compactMap { if case .send(.interest(let message), let peers) = $0 { (message, peers) } else { nil } }
    }
    var countCompletions: [(id: Cluster.RequestID, counts: [NodeCount])] {
        compactMap { if case .completeCounts(let id, let counts) = $0 { (id, counts) } else { nil } }
    }
    var statsCompletions: [(id: Cluster.RequestID, stats: [LocalStats])] {
        compactMap { if case .completeStats(let id, let stats) = $0 { (id, stats) } else { nil } }
    }
    var visibilityCompletions: [Cluster.RequestID] {
        compactMap { if case .completeVisibility(let id) = $0 { id } else { nil } }
    }
    var ticks: [Duration] {
        compactMap { if case .scheduleTick(let at) = $0 { at } else { nil } }
    }
    func counted(_ counter: Cluster.Counter) -> Int {
        reduce(0) { sum, directive in
            if case .count(counter, let amount) = directive { sum + amount } else { sum }
        }
    }
}
