"""The command lines of pvaPy's streaming-framework document, as written there.

Copied from pvaPy 5.6's documentation/streamingFramework.md (sections Examples and Input/Output Modes;
`../shared/reference/pvapy-streamingFramework.md` in this project's workspace), one constant per command, in
the order of the document. A command used again later in the document is the same constant. Only the
``rm -rf ... && mkdir -p`` lines before two file-writer commands are left out (the tests make the directory).
"""

SINGLE_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug
'''

SIM_1HZ = r'''
$ pvapy-ad-sim-server -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 1
'''

MULTIPLE_CONSUMERS = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug \
    --n-consumers 2
'''

DISTRIBUTED_CONSUMERS = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug \
    --n-consumers 2 \
    --distributor-updates 1
'''

CONSUMER_SET_A = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug \
    --n-consumers 2 \
    --distributor-updates 3 \
    --consumer-id 1 \
    --n-distributor-sets 2 \
    --distributor-set A
'''

CONSUMER_SET_B = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug \
    --n-consumers 2 \
    --distributor-updates 3 \
    --consumer-id 3 \
    --n-distributor-sets 2 \
    --distributor-set B
'''

UNPROTECTED_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-class pvapy.hpc.userDataProcessor.UserDataProcessor \
    --report-period 10
'''

SIM_10KHZ = r'''
$ pvapy-ad-sim-server -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 10000 -rp 10000
'''

SERVER_QUEUE_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-class pvapy.hpc.userDataProcessor.UserDataProcessor \
    --report-period 10 \
    --server-queue-size 1000
'''

QUEUED_CONSUMER = r'''
pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --receiver-queue-size 1000
'''

SIM_5KHZ = r'''
$ pvapy-ad-sim-server -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 5000 -rp 5000
'''

QUEUED_CONSUMERS_2 = r'''
pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --receiver-queue-size 1000 \
    --n-consumers 2 \
    --distributor-updates 1
'''

QUEUED_CONSUMERS_4 = r'''
pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --receiver-queue-size 1000 \
    --n-consumers 4 \
    --distributor-updates 1
'''

SIM_8KHZ = r'''
$ pvapy-ad-sim-server -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 8000 -rp 8000
'''

CHAIN_PROCESSORS = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel processor:*:control \
    --status-channel processor:*:status \
    --output-channel processor:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --receiver-queue-size 1000 \
    --n-consumers 4 \
    --distributor-updates 8
'''

CHAIN_FILE_WRITERS = r'''
$ pvapy-hpc-consumer \
    --input-channel processor:*:output \
    --output-channel file:*:output \
    --control-channel file:*:control \
    --status-channel file:*:status \
    --processor-class pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor \
    --processor-args '{"outputDirectory" : "/path/to/output/data", "outputFileNameFormat" : "bdp_{uniqueId:06d}.{processorId}.tiff", "objectIdOffset" : "25"}' \
    --n-consumers 4 \
    --report-period 10 \
    --server-queue-size 1000 \
    --receiver-queue-size 10000
'''

MIRROR = r'''
$ pvapy-mirror-server --channel-map "(pvapy:image,ad:image,pva,1000)"
'''

SIM_AD_2KHZ = r'''
$ pvapy-ad-sim-server -cn ad:image -nx 128 -ny 128 -dt uint8 -fps 2000 -rt 60 -rp 2000
'''

PASSTHROUGH_CONSUMERS = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel passthrough:*:control \
    --status-channel passthrough:*:status \
    --output-channel passthrough:*:output \
    --processor-class pvapy.hpc.userDataProcessor.UserDataProcessor \
    --server-queue-size 100 \
    --report-period 10 \
    --distributor-updates 8 \
    --n-consumers 2
'''

PARALLEL_CONSUMERS_1 = r'''
$ pvapy-hpc-consumer \
    --consumer-id 1 \
    --input-channel passthrough:1:output \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --n-consumers 4 \
    --distributor-updates 8 \
    --oid-offset 57
'''

PARALLEL_CONSUMERS_5 = r'''
$ pvapy-hpc-consumer \
    --consumer-id 5 \
    --input-channel passthrough:2:output \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --n-consumers 4 \
    --distributor-updates 8 \
    --oid-offset 57
'''

SPLIT_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel split:*:control \
    --status-channel split:*:status \
    --output-channel split:*:output \
    --processor-file /path/to/splitAdImageProcessorExample.py \
    --processor-class SplitAdImageProcessor \
    --processor-args='{"nx" : 1920, "ny" : 1080}' \
    --report-period 10 \
    --server-queue-size 100
'''

TILE_CONSUMERS = r'''
$ pvapy-hpc-consumer \
    --input-channel split:1:output \
    --control-channel process:*:control \
    --status-channel process:*:status \
    --output-channel process:*:output \
    --processor-class pvapy.hpc.userDataProcessor.UserDataProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --n-consumers 4 \
    --distributor-updates 1
'''

SIM_4K = r'''
$ pvapy-ad-sim-server -cn pvapy:image -nx 3840 -ny 2160 -dt uint8 -fps 100 -rp 100 -rt 60
'''

COLLECTOR = r'''
$ pvapy-hpc-collector \
    --collector-id 1 \
    --producer-id-list 1,2,3,4 \
    --input-channel processor:*:output \
    --control-channel collector:*:control \
    --status-channel collector:*:status \
    --output-channel collector:*:output \
    --processor-class pvapy.hpc.userDataProcessor.UserDataProcessor \
    --report-period 10 \
    --server-queue-size 1000 \
    --collector-cache-size 10000 \
    --receiver-queue-size 2000
'''

COLLECTOR_FILE_WRITERS = r'''
$ pvapy-hpc-consumer \
    --input-channel collector:1:output \
    --output-channel file:*:output \
    --control-channel file:*:control \
    --status-channel file:*:status \
    --processor-class pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor \
    --processor-args '{"outputDirectory" : "/path/to/output/data", "outputFileNameFormat" : "bdp_{uniqueId:06d}.{processorId}.tiff"}' \
    --n-consumers 4 \
    --report-period 10 \
    --server-queue-size 1000 \
    --receiver-queue-size 10000 \
    --distributor-updates 1
'''

STITCH_COLLECTOR = r'''
$ pvapy-hpc-collector \
    --collector-id 1 \
    --producer-id-list 1,2,3,4 \
    --input-channel process:*:output \
    --control-channel collector:*:control \
    --status-channel collector:*:status \
    --output-channel collector:*:output \
    --processor-file /path/to/stitchAdImageProcessorExample.py \
    --processor-class StitchAdImageProcessor \
    --processor-args='{"nx" : 3840, "ny" : 2160}' 
    --report-period 10 \
    --server-queue-size 100 \
    --collector-cache-size 100
'''

METADATA_COLLECTOR = r'''
$ pvapy-hpc-collector \
    --collector-id 1 \
    --producer-id-list 1 \
    --input-channel pvapy:image \
    --control-channel collector:*:control \
    --status-channel collector:*:status \
    --output-channel collector:*:output \
    --processor-file /path/to/hpcAdMetadataProcessorExample.py \
    --processor-class HpcAdMetadataProcessor \
    --report-period 10 \
    --server-queue-size 100 \
    --collector-cache-size 100 \
    --receiver-queue-size 1000 \
    --metadata-channels pva://x,pva://y,pva://z
'''

SIM_PVA_METADATA = r'''
$ pvapy-ad-sim-server \
    -cn pvapy:image -nx 128 -ny 128 -fps 100 -rp 100 -rt 60 \
    -mpv pva://x,pva://y,pva://z
'''

SIM_CA_METADATA = r'''
$ EPICS_DB_INCLUDE_PATH=/path/to/epics-base/dbd pvapy-ad-sim-server \
    -cn pvapy:image -nx 128 -ny 128 -fps 1 -rt 60 \
    -mpv x,y,z
'''

METADATA_CONSUMERS = r'''
$ pvapy-hpc-consumer \
    --consumer-id 1 \
    --n-consumers 4 \
    --input-channel pvapy:image \
    --control-channel consumer:*:control \
    --status-channel consumer:*:status \
    --output-channel consumer:*:output \
    --processor-file /path/to/hpcAdMetadataProcessorExample.py \
    --processor-class HpcAdMetadataProcessor \
    --processor-args '{"timestampTolerance" : 0.00025}' \
    --report-period 10 \
    --server-queue-size 2000 \
    --accumulate-objects 10 \
    --receiver-queue-size 0 \
    --distributor-updates 1 \
    --metadata-channels pva://pvapy:x,pva://pvapy:y,pva://pvapy:z
'''

METADATA_MIRROR = r'''
$ pvapy-mirror-server \
    --channel-map "(pvapy:image,ad:image,pva,1000),(pvapy:x,ad:x,pva,1000),(pvapy:y,ad:y,pva,1000),(pvapy:z,ad:z,pva,1000)"
'''

SIM_AD_METADATA = r'''
$ pvapy-ad-sim-server \
    -cn ad:image -nx 128 -ny 128 -fps 2000 -rp 2000 -rt 60 \
    -mpv pva://ad:x,pva://ad:y,pva://ad:z
'''

ENCRYPTING_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel enc:*:control \
    --status-channel enc:*:status \
    --output-channel enc:*:output \
    --processor-class pvapy.hpc.adImageDataEncryptor.AdImageDataEncryptor \
    --processor-args '{"privateKeyFilePath" : "/path/to/id_rsa", "sign" : 1}' 
    --report-period 10 \
    --log-level debug
'''

DECRYPTING_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel enc:*:output \
    --control-channel dec:*:control \
    --status-channel dec:*:status \
    --output-channel dec:*:output \
    --processor-class pvapy.hpc.adImageDataDecryptor.AdImageDataDecryptor \
    --oid-field objectId \
    --processor-args '{"privateKeyFilePath" : "/path/to/id_rsa", "verify" : 1}' \
    --report-period 10 \
    --log-level debug
'''

PROCESSING_CONSUMER = r'''
$ pvapy-hpc-consumer \
    --input-channel dec:*:output \
    --control-channel proc:*:control \
    --status-channel proc:*:status \
    --output-channel proc:*:output \
    --processor-file /path/to/hpcAdImageProcessorExample.py \
    --processor-class HpcAdImageProcessor \
    --report-period 10 \
    --log-level debug
'''

FIREWALL_SIM = r'''
$ EPICS_PVAS_SERVER_PORT=10001 EPICS_PVA_BROADCAST_PORT=10000 pvapy-ad-sim-server \
    -cn pvapy:image -nx IMAGE_SIZE -ny IMAGE_SIZE -dt uint8 -rt 60 \
    -fps FRAME_RATE -rp FRAME_RATE
'''

FIREWALL_STAGE1 = r'''
$ EPICS_PVA_NAME_SERVERS="hostA:10001 hostA:30001" EPICS_PVA_BROADCAST_PORT=20000 pvapy-hpc-consumer \
    --input-channel pvapy:image \
    --control-channel stage1:*:control \
    --status-channel stage1:*:status \
    --output-channel stage1:*:output \
    --processor-class pvapy.hpc.adImageProcessor.AdImageProcessor \
    --report-period 10 \
    --server-queue-size QUEUE_SIZE \
    --consumer-id 1 \
    --output-mode pva
'''

FIREWALL_STAGE2 = r'''
$ EPICS_PVAS_SERVER_PORT=30001 EPICS_PVA_BROADCAST_PORT=30000 pvapy-hpc-consumer \
    --input-channel stage1:*:output \
    --control-channel stage2:*:control \
    --status-channel stage2:*:status \
    --output-channel stage:*:output \
    --processor-class pvapy.hpc.adImageProcessor.AdImageProcessor \
    --report-period 10 \
    --skip-initial-updates 0 \
    --consumer-id 1 \
    --input-mode pvas
'''
