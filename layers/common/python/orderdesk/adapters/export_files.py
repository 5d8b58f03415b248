"""The export files in S3: written by a multipart upload, a part at a time, so the export
function holds one part in memory whatever the file's size; read only through presigned URLs
(the API never carries a file: a Lambda response is at most 6 MB).

Every call goes through `aws.client("s3")` (the endpoint is botocore's AWS_ENDPOINT_URL_S3:
moto's server on the local stack, so a presigned URL points at moto's port there) and its
failures through `aws.translated`: a throttle, a 5xx or a dropped connection is
`StorageUnavailable` (retried), anything else `ExportFileRejected`."""

from __future__ import annotations

from ..domain.errors import PermanentError
from . import aws

CONTENT_TYPE = "text/csv; charset=utf-8"
# S3's multipart rules: every part but the last at least 5 MiB, at most 10,000 parts
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000


class ExportFileRejected(PermanentError):
    """S3 refused a request about an export file (no such bucket, access denied...)."""


class MultipartFile:
    """One object written part by part. `upload` each part (all but the last of at least 5 MiB),
    then `complete`; `abort` frees the parts of an upload that will not be completed."""

    def __init__(self, bucket: str, key: str) -> None:
        self.bucket, self.key = bucket, key
        with aws.translated("S3", rejected=ExportFileRejected):
            answer = aws.client("s3").create_multipart_upload(Bucket=bucket, Key=key, ContentType=CONTENT_TYPE)
        self.upload_id: str = answer["UploadId"]
        self.parts: list[dict[str, object]] = []  # number and ETag: 10,000 at most, a few hundred KB

    def upload(self, data: bytes | bytearray) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise ExportFileRejected(f"the file would need more than {MAX_PARTS} parts")
        number = len(self.parts) + 1
        with aws.translated("S3", rejected=ExportFileRejected):
            answer = aws.client("s3").upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                  PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        with aws.translated("S3", rejected=ExportFileRejected):
            aws.client("s3").complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                       MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        with aws.translated("S3", rejected=ExportFileRejected):
            aws.client("s3").abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


def download_url(bucket: str, key: str, file_name: str, seconds: int) -> str:
    """A presigned GET of the file, valid `seconds`, saved by the browser as `file_name`. Signing
    is local (no request to S3); the URL works only while the signer's role may s3:GetObject it."""
    with aws.translated("S3", rejected=ExportFileRejected):
        url: str = aws.client("s3").generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": bucket, "Key": key, "ResponseContentType": CONTENT_TYPE,
                    "ResponseContentDisposition": f'attachment; filename="{file_name}"'})
    return url
