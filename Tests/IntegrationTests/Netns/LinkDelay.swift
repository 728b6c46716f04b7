import Foundation

/// A fixed delay on every packet a lab host sends: `tc netem` where the kernel has it, else an NFQUEUE
/// rule plus `scripts/netfault/nfq_delay.py` (which holds each packet for the delay) inside the host's
/// namespace. `heal` on the host removes the rule and the qdisc; `stop` ends the helper process.
final class LinkDelay: @unchecked Sendable {
    let how: String
    private let helper: NamespacedProcess?

    private init(how: String, helper: NamespacedProcess?) {
        self.how = how
        self.helper = helper
    }

    /// Starts the delay; nil when neither way works here (the caller then tests loss alone and says so).
    static func start(_ lab: NetworkLab, host: Int, milliseconds: Int) throws -> LinkDelay? {
        if NetworkLab.hasNetem {
            try lab.delay(host, milliseconds: milliseconds)
            return LinkDelay(how: "tc netem", helper: nil)
        }
        let queue = "7"
        let helper = try NamespacedProcess(lab: lab, host: host, command: ["python3", LabCluster.script("nfq_delay.py"), queue, String(milliseconds)])
        let deadline = Date().addingTimeInterval(5)
        while !helper.lines.contains("ready"), helper.process.isRunning, Date() < deadline { usleep(20_000) }
        guard helper.lines.contains("ready") else {
            helper.kill9()
            return nil
        }
        try lab.exec(host, [NetworkLab.iptablesPath, "-w", "-I", "OUTPUT", "-o", "eth0", "-j", "NFQUEUE", "--queue-num", queue, "--queue-bypass"])
        return LinkDelay(how: "NFQUEUE delayer (this kernel has no netem)", helper: helper)
    }

    func stop() {
        helper?.kill9()
    }
}
