import Foundation
import RocketWSTestKit
import Synchronization

/// A private test network on this machine: a switch (a bridge inside a namespace of its own, so the host's
/// firewall never sees the bridged traffic) and per host a network namespace joined to it by a veth pair,
/// each with its own address in a /24 that exists only here (10.213.X.0/24). The test process reaches the
/// hosts through one more veth pair whose end in this namespace has 10.213.X.1. Faults are real packet
/// filters (`iptables` in a host's namespace); nothing leaves the switch.
///
/// Names carry this process's id (`rwlab-<id>-sw`, `rwlab-<id>-h<i>`, `rwv<id>`; the id is the pid and a
/// serial digit) so that `tearDown` and `removeLeftovers` (called by every new lab: remains of a run that
/// crashed) know what is whose. Deleting the namespaces removes every link and rule with them.
final class NetworkLab: @unchecked Sendable {  // set up once, then only read; tearDown is idempotent
    /// Why labs cannot be made here (nil when they can): needs root, iproute2, iptables and namespaces.
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "network-namespace tests need root (they skip here)" }
        for tool in [UnprivilegedLaunch.ipPath, iptablesPath] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing: run `make setup` (installs iproute2 and iptables)"
        }
        let probe = "rwlab-probe-\(getpid())"
        guard (try? run(UnprivilegedLaunch.ipPath, ["netns", "add", probe])) != nil else {
            return "cannot create a network namespace here (ip netns add failed)"
        }
        _ = try? run(UnprivilegedLaunch.ipPath, ["netns", "del", probe])
        return nil
    }()

    static var available: Bool { unavailableReason == nil }

    static let iptablesPath = FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables") ? "/usr/sbin/iptables" : "/sbin/iptables"

    private static let counter = LabCounter()

    let id: String
    let subnet: String
    let hostCount: Int
    private let uplink: String
    private var tornDown = false

    /// Makes a lab of `hosts` namespaces h1...hN at 10.213.X.11...
    init(hosts: Int) throws {
        Self.removeLeftovers()
        let serial = Self.counter.next()
        id = "\(getpid())\(serial)"
        subnet = "10.213.\((Int(getpid()) * 7 + serial) % 200 + 20)"
        hostCount = hosts
        uplink = "rwv\(id)"
        do {
            let sw = switchNamespace
            try ip(["netns", "add", sw])
            try ip(["-n", sw, "link", "add", "br0", "type", "bridge"])
            try ip(["-n", sw, "link", "set", "br0", "up"])
            try ip(["link", "add", uplink, "type", "veth", "peer", "name", "up0", "netns", sw])
            try ip(["-n", sw, "link", "set", "up0", "master", "br0", "up"])
            try ip(["addr", "add", "\(subnet).1/24", "dev", uplink])
            try ip(["link", "set", uplink, "up"])
            for i in 1...hosts {
                let ns = namespace(i)
                try ip(["netns", "add", ns])
                try ip(["-n", sw, "link", "add", "p\(i)", "type", "veth", "peer", "name", "eth0", "netns", ns])
                try ip(["-n", sw, "link", "set", "p\(i)", "master", "br0", "up"])
                try ip(["-n", ns, "addr", "add", "\(address(i))/24", "dev", "eth0"])
                try ip(["-n", ns, "link", "set", "eth0", "up"])
                try ip(["-n", ns, "link", "set", "lo", "up"])
            }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// The namespace of host i (1-based).
    func namespace(_ i: Int) -> String { "rwlab-\(id)-h\(i)" }
    /// The address of host i.
    func address(_ i: Int) -> String { "\(subnet).\(10 + i)" }
    /// The test process's own address on the bridge.
    var hostAddress: String { "\(subnet).1" }
    private var switchNamespace: String { "rwlab-\(id)-sw" }

    // MARK: Faults (iptables rules in one host's namespace; `heal` removes them all)

    /// Host i loses its network: every packet in or out of its link is dropped (no FIN, no RST).
    func cutOff(_ i: Int) throws {
        try iptables(i, ["-I", "INPUT", "-i", "eth0", "-j", "DROP"])
        try iptables(i, ["-I", "OUTPUT", "-o", "eth0", "-j", "DROP"])
    }

    /// Packets from host i to host j are dropped; j's packets to i still flow.
    func dropPackets(from i: Int, to j: Int) throws {
        try iptables(i, ["-I", "OUTPUT", "-d", address(j), "-j", "DROP"])
    }

    /// A random `percent` of the packets in and out of host i's link are dropped.
    func loseRandomly(_ i: Int, percent: Double) throws {
        let probability = String(format: "%.3f", percent / 100)
        for (chain, flag) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            try iptables(i, ["-I", chain, flag, "eth0", "-m", "statistic", "--mode", "random", "--probability", probability, "-j", "DROP"])
        }
    }

    /// Whether this kernel has `tc netem` (some VM kernels are built without it).
    static let hasNetem: Bool = {
        let probe = "rwlab-netem-\(getpid())"
        guard (try? run(UnprivilegedLaunch.ipPath, ["netns", "add", probe])) != nil else { return false }
        defer { _ = try? run(UnprivilegedLaunch.ipPath, ["netns", "del", probe]) }
        return (try? run(UnprivilegedLaunch.ipPath, ["netns", "exec", probe, tcPath, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])) != nil
    }()

    static let tcPath = FileManager.default.isExecutableFile(atPath: "/usr/sbin/tc") ? "/usr/sbin/tc" : "/sbin/tc"

    /// Every packet host i sends waits `milliseconds` (tc netem on its link).
    func delay(_ i: Int, milliseconds: Int) throws {
        try Self.run(UnprivilegedLaunch.ipPath, ["netns", "exec", namespace(i), Self.tcPath, "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "\(milliseconds)ms"])
    }

    /// Removes every filter and queueing rule of host i.
    func heal(_ i: Int) throws {
        try iptables(i, ["-F"])
        _ = try? Self.run(UnprivilegedLaunch.ipPath, ["netns", "exec", namespace(i), Self.tcPath, "qdisc", "del", "dev", "eth0", "root"])
    }

    /// Runs a command inside host i's namespace (as root); returns its output.
    @discardableResult
    func exec(_ i: Int, _ command: [String]) throws -> String {
        try Self.run(UnprivilegedLaunch.ipPath, ["netns", "exec", namespace(i)] + command)
    }

    private func iptables(_ i: Int, _ arguments: [String]) throws {
        try exec(i, [Self.iptablesPath, "-w"] + arguments)
    }

    private func ip(_ arguments: [String]) throws {
        try Self.run(UnprivilegedLaunch.ipPath, arguments)
    }

    // MARK: Clean-up

    /// Deletes the namespaces (their links, rules and queues go with them) and the uplink.
    func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        for i in 1...hostCount { _ = try? Self.run(UnprivilegedLaunch.ipPath, ["netns", "del", namespace(i)]) }
        _ = try? Self.run(UnprivilegedLaunch.ipPath, ["netns", "del", switchNamespace])
        _ = try? Self.run(UnprivilegedLaunch.ipPath, ["link", "del", uplink])
    }

    /// Removes namespaces and links of labs whose process is gone (a crashed or killed test run).
    static func removeLeftovers() {
        let namespaces = (try? run(UnprivilegedLaunch.ipPath, ["netns", "list"])) ?? ""
        for line in namespaces.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix("rwlab-"), let pid = ownerPID(name.dropFirst("rwlab-".count)), !isAlive(pid) else { continue }
            _ = try? run(UnprivilegedLaunch.ipPath, ["netns", "del", name])
        }
        let links = (try? run(UnprivilegedLaunch.ipPath, ["-o", "link", "show"])) ?? ""
        for line in links.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = String(fields[1].prefix { $0 != ":" && $0 != "@" })
            guard name.hasPrefix("rwv"), let pid = ownerPID(name.dropFirst(3)), !isAlive(pid) else { continue }
            _ = try? run(UnprivilegedLaunch.ipPath, ["link", "del", name])
        }
    }

    /// The process id a lab name starts with (its id is the pid followed by a one-digit serial).
    private static func ownerPID(_ rest: Substring) -> Int32? {
        let digits = rest.prefix { $0.isNumber }
        guard digits.count >= 2 else { return nil }
        return Int32(digits.dropLast())
    }

    private static func isAlive(_ pid: Int32) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    /// Runs a tool to completion; its standard output, or ``CommandRun/Failure`` with its error output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        try CommandRun.runBlocking(tool, arguments).succeeded()
    }
}

/// A serial number per lab of this process (ids stay unique when a test makes several labs).
private final class LabCounter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 = ($0 + 1) % 10; return $0 } }
}
