// Only the chart types and parts the console draws, so ECharts stays a fraction of its size.
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

export { default as VChart } from 'vue-echarts'

export const PALETTE = ['#1f4e96', '#2e9b5f', '#e6a23c', '#c62828', '#6b7a90', '#8e5bb5', '#2ab0c5']
