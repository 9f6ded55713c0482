import DroverAPI
import DroverCore
import DroverMaster
import FuzzSupport

/// Job decoding on hostile text: the JSON scanner, a submitted job request (one and a batch),
/// and a job as stored and sent to workers. Nothing may crash, and a job that decodes must
/// come back the same after encoding.
@main enum FuzzJobDecoding {
    static func main() {
        FuzzDriver.main { input in
            let text = String(decoding: input, as: UTF8.self)
            if let fields = try? JSONScanner.objectFields(text) {
                // Every raw member the scanner cut out is itself well-formed JSON.
                for value in fields.values where value.first == "{" {
                    precondition((try? JSONScanner.objectFields(value)) != nil, "a nested object did not scan again")
                }
            }
            if let fields = try? RequestFields(json: text) {
                _ = try? APIRequest(op: "submit", fields: fields)
                _ = try? APIRequest(op: "submitBatch", fields: fields)
                _ = try? APIRequest(op: "complete", fields: fields)
                _ = try? APIRequest(op: "fail", fields: fields)
            }
            if let job = try? WireFormat.decodeJob(text) {
                let again = try? WireFormat.decodeJob(WireFormat.encode(job))
                precondition(again == job, "a job changed on its way through encode and decode")
            }
            if let claimed = try? WireFormat.decodeClaimedJob(text) {
                let again = try? WireFormat.decodeClaimedJob(WireFormat.encode(claimed))
                precondition(again == claimed, "a claimed job changed on its way through encode and decode")
            }
        }
    }
}
