#include "common/result.h"

namespace coinrelay {

const char* toString(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid_argument";
    case ErrorCode::NotFound:
      return "not_found";
    case ErrorCode::ResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::Unavailable:
      return "unavailable";
    case ErrorCode::DataLoss:
      return "data_loss";
    case ErrorCode::FailedPrecondition:
      return "failed_precondition";
    case ErrorCode::Internal:
      return "internal";
  }
  return "unknown";
}

}  // namespace coinrelay
