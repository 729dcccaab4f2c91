import { createApp } from 'vue'
import {
  ElAlert,
  ElAside,
  ElButton,
  ElCard,
  ElCheckbox,
  ElCol,
  ElConfigProvider,
  ElContainer,
  ElDatePicker,
  ElDescriptions,
  ElDescriptionsItem,
  ElDialog,
  ElEmpty,
  ElForm,
  ElFormItem,
  ElHeader,
  ElImage,
  ElInput,
  ElLoading,
  ElMain,
  ElMenu,
  ElMenuItem,
  ElOption,
  ElRadio,
  ElRow,
  ElSelect,
  ElTable,
  ElTableColumn,
  ElTabPane,
  ElTabs,
  ElTag,
  ElTimeline,
  ElTimelineItem,
  ElTooltip,
} from 'element-plus'
import 'element-plus/dist/index.css'
import { i18n } from '../i18n'
import App from './App.vue'
import { installConsoleMessages } from './i18n'
import { router } from './router'
import './theme.css'

installConsoleMessages()
const app = createApp(App)
app.use(i18n)
app.use(router)
// Only the Element Plus components the pages use, so the bundle carries no others. Each
// plugin also registers its parts (ElRadio: the group and buttons; ElTable: its columns).
for (const part of [
  ElAlert, ElAside, ElButton, ElCard, ElCheckbox, ElCol, ElConfigProvider, ElContainer,
  ElDatePicker, ElDescriptions, ElDescriptionsItem, ElDialog, ElEmpty, ElForm, ElFormItem,
  ElHeader, ElImage, ElInput, ElLoading, ElMain, ElMenu, ElMenuItem, ElOption, ElRadio, ElRow, ElSelect, ElTable, ElTableColumn, ElTabPane, ElTabs, ElTag, ElTimeline,
  ElTimelineItem, ElTooltip,
]) {
  app.use(part)
}
app.mount('#app')
