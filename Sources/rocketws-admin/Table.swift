import RocketWSClient

/// A plain-text table: a header row and left-aligned columns two spaces apart.
struct Table {
    var headers: [String]
    var rows: [[String]]

    func render() -> String {
        var widths = self.headers.map(\.count)
        for row in self.rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                text += isLast ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
            return text
        }
        return ([line(self.headers)] + self.rows.map(line)).joined(separator: "\n")
    }
}

extension JSONValue {
    /// A table cell: strings bare, everything else as JSON, missing as "-".
    var cell: String {
        switch self {
        case .string(let value): return value
        default: return self.serialized()
        }
    }
}

extension Optional where Wrapped == JSONValue {
    var cell: String { self?.cell ?? "-" }
}
