/// A log-linear histogram of latencies in microseconds, about 1.6% precision, fixed memory.
///
/// Values below 128 µs have exact buckets; above, each power of two is split into 64 buckets.
public struct LatencyHistogram: Sendable, Equatable {
    private static let linear = 128
    private static let subBuckets = 64
    private static let bucketCount = linear + (63 - 7) * subBuckets

    private var counts: [UInt32]
    public private(set) var count: Int = 0
    public private(set) var maxMicros: Int = 0
    public private(set) var minMicros: Int = .max
    public private(set) var sumMicros: Double = 0

    public init() {
        self.counts = Array(repeating: 0, count: Self.bucketCount)
    }

    private static func bucket(_ value: Int) -> Int {
        if value < linear { return value }
        let exponent = Int.bitWidth - 1 - value.leadingZeroBitCount  // >= 7
        let sub = (value >> (exponent - 6)) & (subBuckets - 1)
        return linear + (exponent - 7) * subBuckets + sub
    }

    /// The lowest value that falls into `bucket`.
    private static func lowerBound(_ bucket: Int) -> Int {
        if bucket < linear { return bucket }
        let exponent = (bucket - linear) / subBuckets + 7
        let sub = (bucket - linear) % subBuckets
        return (1 << exponent) + (sub << (exponent - 6))
    }

    /// Records one latency; negative values (clock skew) count as 0.
    public mutating func record(micros: Int) {
        let value = max(0, micros)
        self.counts[Self.bucket(value)] &+= 1
        self.count += 1
        self.sumMicros += Double(value)
        self.maxMicros = max(self.maxMicros, value)
        self.minMicros = min(self.minMicros, value)
    }

    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for index in self.counts.indices { self.counts[index] &+= other.counts[index] }
        self.count += other.count
        self.sumMicros += other.sumMicros
        self.maxMicros = max(self.maxMicros, other.maxMicros)
        self.minMicros = min(self.minMicros, other.minMicros)
    }

    /// The value at quantile `q` (0...1) in microseconds, the midpoint of its bucket; 0 when empty.
    public func percentile(_ q: Double) -> Int {
        guard self.count > 0 else { return 0 }
        let rank = max(1, Int((q * Double(self.count)).rounded(.up)))
        var seen = 0
        for (index, value) in self.counts.enumerated() where value > 0 {
            seen += Int(value)
            if seen >= rank {
                let low = Self.lowerBound(index)
                let high = index + 1 < Self.bucketCount ? Self.lowerBound(index + 1) : low + 1
                return min(self.maxMicros, (low + high - 1) / 2)
            }
        }
        return self.maxMicros
    }

    public var meanMicros: Double { self.count == 0 ? 0 : self.sumMicros / Double(self.count) }
}
