/// The rules for names that become part of Redis keys or appear in logs.
///
/// Queue names and worker ids appear inside key names (`drover:{emails}:queued`), so braces,
/// colons, spaces and control characters are refused rather than escaped: what you type in
/// `redis-cli` is what Drover wrote.
public enum Names {
    public static let maxQueueLength = 64
    public static let maxTypeLength = 128
    public static let maxWorkerIDLength = 128
    public static let maxIdempotencyKeyLength = 256

    /// Letters, digits, `_`, `-` and `.`; 1 to 64 characters.
    public static func validateQueue(_ name: String) throws(JobError) {
        try validate(name, field: "queue", maxLength: maxQueueLength, extra: "_-.")
    }

    /// Letters, digits, `_`, `-`, `.`, `:` and `/`; 1 to 128 characters.
    public static func validateType(_ name: String) throws(JobError) {
        try validate(name, field: "type", maxLength: maxTypeLength, extra: "_-.:/")
    }

    /// Letters, digits, `_`, `-`, `.` and `:`; 1 to 128 characters.
    public static func validateSchedule(_ name: String) throws(JobError) {
        try validate(name, field: "schedule name", maxLength: maxTypeLength, extra: "_-.:")
    }

    /// A job's name within its workflow: letters, digits, `_`, `-` and `.`; 1 to 64 characters.
    /// Job hash fields are named after it (`parent:<name>`).
    public static func validateWorkflowJob(_ name: String) throws(JobError) {
        try validate(name, field: "workflow job name", maxLength: maxQueueLength, extra: "_-.")
    }

    /// A workflow's label: letters, digits, `_`, `-`, `.` and `:`; 1 to 128 characters.
    public static func validateWorkflowLabel(_ name: String) throws(JobError) {
        try validate(name, field: "workflow name", maxLength: maxTypeLength, extra: "_-.:")
    }

    /// A step of a job's effect ledger (``JobStore/recordEffect(_:step:value:worker:)``): the
    /// same rules as a workflow job's name.
    public static func validateEffectStep(_ name: String) throws(JobError) {
        try validate(name, field: "effect step", maxLength: maxTypeLength, extra: "_-.:")
    }

    /// Letters, digits, `_`, `-`, `.` and `@`; 1 to 128 characters.
    public static func validateWorkerID(_ name: String) throws(JobError) {
        try validate(name, field: "worker id", maxLength: maxWorkerIDLength, extra: "_-.@")
    }

    /// Any characters but spaces and control characters; 1 to 256 of them.
    public static func validateIdempotencyKey(_ key: String) throws(JobError) {
        try validateKey(key, field: "idempotency key")
    }

    /// A unique job's key: the same rules as an idempotency key's.
    public static func validateUniqueKey(_ key: String) throws(JobError) {
        try validateKey(key, field: "unique key")
    }

    private static func validateKey(_ key: String, field: String) throws(JobError) {
        guard !key.isEmpty else { throw .invalidName(field: field, value: key, reason: "must not be empty") }
        guard key.unicodeScalars.count <= maxIdempotencyKeyLength else {
            throw .invalidName(field: field, value: key, reason: "longer than \(maxIdempotencyKeyLength) characters")
        }
        guard key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw .invalidName(field: field, value: key, reason: "spaces and control characters are not allowed")
        }
    }

    private static func validate(_ name: String, field: String, maxLength: Int, extra: String) throws(JobError) {
        guard !name.isEmpty else { throw .invalidName(field: field, value: name, reason: "must not be empty") }
        guard name.utf8.count <= maxLength else {
            throw .invalidName(field: field, value: name, reason: "longer than \(maxLength) characters")
        }
        let allowedExtra = Set(extra.unicodeScalars)
        for scalar in name.unicodeScalars {
            let ok = (scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))) || allowedExtra.contains(scalar)
            guard ok else {
                throw .invalidName(
                    field: field, value: name,
                    reason: "only letters, digits and \(extra.map { "'\($0)'" }.joined(separator: " ")) are allowed")
            }
        }
    }
}
