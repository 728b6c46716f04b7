extension Membership {
    /// A running suspicion timer (Lifeguard section IV-B).
    ///
    /// The timeout starts at `max` and falls towards `min` as independent confirmations arrive:
    /// `timeout(c) = max(min, max - (max - min) × log(c + 1) / log(k + 1))`, measured from `startedAt`.
    struct Suspicion: Sendable, Hashable {
        var incarnation: UInt64
        var startedAt: Duration
        var min: Duration
        var max: Duration
        /// Confirmations that bring the timeout down to `min`.
        var expectedConfirmations: Int
        /// Nodes that suspected the member; the first one started the suspicion, the others confirm it.
        var suspecters: [String]

        var confirmations: Int { Swift.max(0, suspecters.count - 1) }

        var deadline: Duration {
            let k = expectedConfirmations
            if k < 1 { return startedAt + min }
            let c = Swift.min(confirmations, k)
            let fraction = Self.log(Double(c) + 1) / Self.log(Double(k) + 1)
            let timeout = max - (max - min) * fraction
            return startedAt + (timeout < min ? min : timeout)
        }

        /// Records `node` as a suspecter; `true` if it is a new, independent confirmation.
        mutating func confirm(by node: String) -> Bool {
            guard !suspecters.contains(node) else { return false }
            suspecters.append(node)
            return true
        }

        /// Natural logarithm via the stdlib only (no Foundation): ln x = 2 atanh((x-1)/(x+1)), series.
        static func log(_ x: Double) -> Double {
            precondition(x > 0)
            var m = x
            var e = 0.0
            while m > 2 { m /= 2; e += 1 }
            while m < 1 { m *= 2; e -= 1 }
            let y = (m - 1) / (m + 1)
            let y2 = y * y
            var term = y
            var sum = 0.0
            var n = 1.0
            while abs(term) > 1e-17 {
                sum += term / n
                term *= y2
                n += 2
            }
            return 2 * sum + e * 0.693_147_180_559_945_3
        }

        static func log10(_ x: Double) -> Double { log(x) / 2.302_585_092_994_046 }
    }
}
